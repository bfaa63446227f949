/**
 * DescribeRegions (ActionTrail OpenAPI 2020-07-06, docs/design.md §3.14): the regions ActionTrail
 * serves, `AcceptLanguage` → `{ Regions: { Region: [{ RegionId, LocalName, RegionEndpoint }] } }`
 * (DescribeRegionsResponseBody of the actiontrail-20200706 SDK).
 *
 * `AcceptLanguage`: `zh-CN` (default), `en-US` or `ja`; anything else is InvalidQueryParameter.
 * Choice: `ja` answers the English names (no Japanese names are kept here). `RegionEndpoint` is
 * ActionTrail's regional endpoint, `actiontrail.<RegionId>.aliyuncs.com`.
 */
import { ValidationError } from '../errors.ts';

export const ACCEPT_LANGUAGES = ['zh-CN', 'en-US', 'ja'] as const;
export type AcceptLanguage = (typeof ACCEPT_LANGUAGES)[number];
export const DEFAULT_ACCEPT_LANGUAGE: AcceptLanguage = 'zh-CN';

interface RegionInfo {
  id: string;
  zh: string;
  en: string;
}

/** The public regions of ActionTrail, in its console's order. */
export const ACTIONTRAIL_REGIONS: readonly RegionInfo[] = [
  { id: 'cn-qingdao', zh: '华北1（青岛）', en: 'China (Qingdao)' },
  { id: 'cn-beijing', zh: '华北2（北京）', en: 'China (Beijing)' },
  { id: 'cn-zhangjiakou', zh: '华北3（张家口）', en: 'China (Zhangjiakou)' },
  { id: 'cn-huhehaote', zh: '华北5（呼和浩特）', en: 'China (Hohhot)' },
  { id: 'cn-wulanchabu', zh: '华北6（乌兰察布）', en: 'China (Ulanqab)' },
  { id: 'cn-hangzhou', zh: '华东1（杭州）', en: 'China (Hangzhou)' },
  { id: 'cn-shanghai', zh: '华东2（上海）', en: 'China (Shanghai)' },
  { id: 'cn-shenzhen', zh: '华南1（深圳）', en: 'China (Shenzhen)' },
  { id: 'cn-heyuan', zh: '华南2（河源）', en: 'China (Heyuan)' },
  { id: 'cn-guangzhou', zh: '华南3（广州）', en: 'China (Guangzhou)' },
  { id: 'cn-chengdu', zh: '西南1（成都）', en: 'China (Chengdu)' },
  { id: 'cn-hongkong', zh: '中国香港', en: 'China (Hong Kong)' },
  { id: 'ap-northeast-1', zh: '日本（东京）', en: 'Japan (Tokyo)' },
  { id: 'ap-southeast-1', zh: '新加坡', en: 'Singapore' },
  { id: 'ap-southeast-3', zh: '马来西亚（吉隆坡）', en: 'Malaysia (Kuala Lumpur)' },
  { id: 'ap-southeast-5', zh: '印度尼西亚（雅加达）', en: 'Indonesia (Jakarta)' },
  { id: 'us-east-1', zh: '美国（弗吉尼亚）', en: 'US (Virginia)' },
  { id: 'us-west-1', zh: '美国（硅谷）', en: 'US (Silicon Valley)' },
  { id: 'eu-west-1', zh: '英国（伦敦）', en: 'UK (London)' },
  { id: 'eu-central-1', zh: '德国（法兰克福）', en: 'Germany (Frankfurt)' },
  { id: 'me-east-1', zh: '阿联酋（迪拜）', en: 'UAE (Dubai)' },
];

export function regionEndpoint(regionId: string): string {
  return `actiontrail.${regionId}.aliyuncs.com`;
}

function acceptLanguage(params: Record<string, string>): AcceptLanguage {
  const value = params['AcceptLanguage'];
  if (value === undefined || value === '') return DEFAULT_ACCEPT_LANGUAGE;
  const found = ACCEPT_LANGUAGES.find((l) => l === value);
  if (!found) throw new ValidationError('InvalidQueryParameter', `AcceptLanguage must be one of ${ACCEPT_LANGUAGES.join(', ')} (got ${JSON.stringify(value.slice(0, 32))}).`, 'AcceptLanguage');
  return found;
}

export async function describeRegions(params: Record<string, string>): Promise<Record<string, unknown>> {
  const language = acceptLanguage(params);
  return {
    Regions: {
      Region: ACTIONTRAIL_REGIONS.map((r) => ({ RegionId: r.id, LocalName: language === 'zh-CN' ? r.zh : r.en, RegionEndpoint: regionEndpoint(r.id) })),
    },
  };
}
