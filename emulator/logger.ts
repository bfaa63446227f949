/** The emulator's own log lines and the functions' logs, in FC's log line format. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  functionLog(functionName: string, requestId: string, level: string, line: string): void;
}

export type LogSink = (line: string) => void;

export function createLogger(sink: LogSink | null, options: { functionLogs?: boolean } = {}): Logger {
  const write = (line: string) => sink?.(line);
  const stamp = () => new Date().toISOString();
  return {
    info: (m) => write(`${stamp()} [emulator] ${m}`),
    warn: (m) => write(`${stamp()} [emulator] WARN ${m}`),
    error: (m) => write(`${stamp()} [emulator] ERROR ${m}`),
    functionLog: (fn, requestId, level, line) => {
      if (options.functionLogs === false) return;
      write(`${stamp()} [${fn}] ${requestId ? `${requestId} ` : ''}[${level}] ${line}`);
    },
  };
}

export const silentLogger: Logger = createLogger(null);
