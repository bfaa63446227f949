/**
 * The preset deflate dictionary of history bodies (format 1 of `history-codec.ts`).
 *
 * Deflate finds repeats in the 32 KiB before the current byte; a preset dictionary puts
 * typical ActionTrail text there, so even the first occurrence of `"eventSource":"ecs.aliyuncs.com"`
 * in a ~900-byte event costs a few bits. Built from ActionTrail's documented field names
 * (in the order the schema writes them), common values (regions, services, user agents,
 * identity types, ACS resource types) and a few whole events; later text is cheaper to
 * refer to, so the most frequent fragments come last.
 *
 * FROZEN: bodies already stored need exactly these bytes to inflate. Never edit this list;
 * add a new dictionary and a new format byte instead (a unit test pins the SHA-256).
 */
const PARTS: readonly string[] = [
  // rarer values first
  '"errorCode":"Forbidden.RAM","errorMessage":"User not authorized to operate on the specified resource, or this API does not support RAM."',
  '"errorCode":"InvalidParameter","errorMessage":"The specified parameter is not valid."',
  '"errorCode":"Throttling.User","errorMessage":"Request was denied due to user flow control."',
  '"errorCode":"EntityNotExist","errorMessage":"The specified resource does not exist."',
  '"errorCode":"IncorrectInstanceStatus","errorMessage":"The current status of the resource does not support this operation."',
  '"recipientAccountId":"","vpcId":"vpc-","eventAttributes":{"SensitiveAction":"true"},',
  '"additionalEventData":{"loginAccount":"@","isMFAChecked":"false","mfaChecked":"true","callbackUrl":"https://homenew.console.aliyun.com/"},',
  'http://account.aliyun.com/login/login_aliyun.htm',
  '"responseElements":{"RequestId":"","InstanceIdSets":{"InstanceIdSet":["i-"]},"AccessKey":{"AccessKeyId":"LTAI5t","Status":"Active"}},',
  'ap-northeast-1 ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-5 ap-south-1 us-east-1 us-west-1 eu-west-1 eu-central-1 me-east-1 ',
  'cn-qingdao cn-zhangjiakou cn-huhehaote cn-wulanchabu cn-heyuan cn-guangzhou cn-chengdu cn-hongkong cn-shenzhen cn-beijing cn-shanghai ',
  'ACS::RDS::DBInstance ACS::SLB::LoadBalancer ACS::SLB::VServerGroup ACS::OSS::Bucket ACS::RAM::User ACS::RAM::Role ACS::RAM::Policy ACS::RAM::AccessKey ',
  'ACS::VPC::VPC ACS::VPC::VSwitch ACS::VPC::RouteTable ACS::EIP::EipAddress ACS::NAT::NatGateway ACS::KMS::Key ACS::KMS::Secret ACS::SLS::Project ACS::SLS::LogStore ',
  'ACS::ECS::Disk ACS::ECS::SecurityGroup ACS::ECS::Snapshot ACS::ECS::Image ACS::ECS::NetworkInterface ACS::ECS::KeyPair ACS::ECS::Instance ',
  'Describe List Get Query Check Create Delete Modify Update Start Stop Reboot Run Attach Detach Allocate Release Authorize Revoke Set Put Add Remove Enable Disable ',
  'DescribeInstances DescribeDisks DescribeSecurityGroups DescribeImages DescribeInstanceStatus DescribeDBInstances DescribeLoadBalancers DescribeVpcs DescribeVSwitches ',
  'StartInstance StopInstance RebootInstance RunInstances DeleteInstance CreateLoadBalancer CreateAccessKey AssumeRole GenerateDataKey Encrypt Decrypt ',
  '"InstanceId":"i-","InstanceIds":"[\\"i-","ZoneId":"","VpcId":"vpc-","VSwitchId":"vsw-","SecurityGroupId":"sg-","ImageId":"","InstanceType":"ecs.',
  '"DiskId":"d-","LoadBalancerId":"lb-","DBInstanceId":"rm-","BucketName":"","UserName":"","PolicyName":"","PolicyType":"System","KeyId":"key-',
  '"RoleArn":"acs:ram::","RoleSessionName":"","DurationSeconds":3600,"CiphertextBlob":"","ClientToken":"","ResourceGroupId":"rg-","Description":"","Status":"',
  '"MaxResults":"NextToken":"PageSize":50,"PageNumber":1,',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 ',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 ',
  'AlibabaCloud (linux; amd64) Go/1.21 Core/1.62.0 AlibabaCloud (linux; x64) Node.js/v20 Core/1.1.0 TeaDSL/1 AlibabaCloud (darwin; arm64) Python/3.11 Core/0.3 TeaDSL/1 ',
  'aliyun-sdk-java/2.0.0 (Linux/amd64;11.0)/aliyun-java-sdk-core/4.6.4 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-alicloud/1.219.0 aliyun-cli/3.0.',
  '"serviceName":"Rds","serviceName":"Slb","serviceName":"Oss","serviceName":"Ram","serviceName":"Vpc","serviceName":"Kms","serviceName":"Sts","serviceName":"Sls",',
  '"serviceName":"AasSub","serviceName":"AasCustomer","serviceName":"Green","serviceName":"ActionTrail","serviceName":"Cms","serviceName":"Ecs",',
  '"eventSource":"rds.aliyuncs.com","eventSource":"slb.aliyuncs.com","eventSource":"oss-cn-hangzhou.aliyuncs.com","eventSource":"ram.aliyuncs.com",',
  '"eventSource":"vpc.aliyuncs.com","eventSource":"kms.cn-hangzhou.aliyuncs.com","eventSource":"sts.aliyuncs.com","eventSource":"cn-hangzhou.log.aliyuncs.com",',
  '"eventSource":"signin.aliyun.com","eventSource":"ecs.aliyuncs.com",',
  '"apiVersion":"2014-08-15","apiVersion":"2014-05-15","apiVersion":"2015-05-01","apiVersion":"2016-04-28","apiVersion":"2016-01-20","apiVersion":"2015-04-01","apiVersion":"2014-05-26",',
  '"eventType":"AliyunServiceEvent","eventType":"ConsoleOperation","eventType":"ConsoleSignin","eventType":"ConsoleSignout",',
  '"type":"system","type":"root-account","type":"assumed-role","principalId":"","sessionContext":{"attributes":{"mfaAuthenticated":"false","creationDate":"2025-01-01T00:00:00Z"}}',
  '"isGlobal":true,"isGlobal":false,"eventRW":"Write","referencedResources":{"Instance":["i-bp1"],"ACS::ECS::Instance":["i-bp1"]},',
  // whole events, most typical last
  '{"eventId":"","eventVersion":1,"eventTime":"2025-01-01T00:00:00Z","eventType":"ConsoleSignin","eventCategory":"Management","eventName":"ConsoleSignin",' +
    '"eventSource":"signin.aliyun.com","eventRW":"Write","serviceName":"AasSub","acsRegion":"cn-hangzhou","isGlobal":true,"sourceIpAddress":"",' +
    '"userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36","requestId":"",' +
    '"additionalEventData":{"loginAccount":"@1234567890123456.onaliyun.com","mfaChecked":"false","callbackUrl":"https://homenew.console.aliyun.com/"},' +
    '"userIdentity":{"type":"ram-user","principalId":"","accountId":"","userName":""},"referencedResources":{}}',
  '{"eventId":"","eventVersion":1,"eventTime":"2025-01-01T00:00:00Z","eventType":"ApiCall","eventCategory":"Management","eventName":"StopInstance",' +
    '"eventSource":"ecs.aliyuncs.com","eventRW":"Write","serviceName":"Ecs","acsRegion":"cn-hangzhou","sourceIpAddress":"","userAgent":"AliyunConsole",' +
    '"requestId":"","apiVersion":"2014-05-26","requestParameters":{"InstanceId":"i-bp1","ForceStop":"false","AcsHost":"ecs.aliyuncs.com","AccessKeyId":"LTAI5t"},' +
    '"referencedResources":{"ACS::ECS::Instance":["i-bp1"]},"userIdentity":{"type":"ram-user","principalId":"","accountId":"","accessKeyId":"LTAI5t","userName":""}}',
  '{"eventId":"","eventVersion":1,"eventTime":"2025-01-01T00:00:00Z","eventType":"ApiCall","eventCategory":"Management","eventName":"AssumeRole",' +
    '"eventSource":"sts.aliyuncs.com","eventRW":"Read","serviceName":"Sts","acsRegion":"cn-hangzhou","isGlobal":true,"sourceIpAddress":"",' +
    '"userAgent":"aliyun-cli/3.0.204","requestId":"","apiVersion":"2015-04-01","requestParameters":{"RoleArn":"acs:ram::1234567890123456:role/",' +
    '"RoleSessionName":"","DurationSeconds":3600,"AcsHost":"sts.aliyuncs.com","AccessKeyId":"STS.N"},"userIdentity":{"type":"assumed-role",' +
    '"principalId":"","accountId":"","accessKeyId":"STS.N","userName":"","sessionContext":{"attributes":{"mfaAuthenticated":"false",' +
    '"creationDate":"2025-01-01T00:00:00Z"}}},"referencedResources":{}}',
  '{"eventId":"","eventVersion":1,"eventTime":"2025-01-01T00:00:00Z","eventType":"ApiCall","eventCategory":"Management","eventName":"DescribeInstances",' +
    '"eventSource":"ecs.aliyuncs.com","eventRW":"Read","serviceName":"Ecs","acsRegion":"cn-hangzhou","sourceIpAddress":"","userAgent":"AliyunConsole",' +
    '"requestId":"","apiVersion":"2014-05-26","requestParameters":{"RegionId":"cn-hangzhou","PageSize":50,"PageNumber":1,"AcsHost":"ecs.aliyuncs.com",' +
    '"AccessKeyId":"LTAI5t"},"userIdentity":{"type":"ram-user","principalId":"","accountId":"","accessKeyId":"LTAI5t","userName":""},"referencedResources":{}}',
];

export const HISTORY_DICTIONARY_V1: Buffer = Buffer.from(PARTS.join(''), 'utf8');
