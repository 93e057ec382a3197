// Every test runs offline with fake credentials and a region, quiet logs, and fast retries.
process.env.AWS_REGION = 'eu-west-1';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.POWERTOOLS_LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'SILENT';
process.env.RETRY_BASE_DELAY_MS = '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// CDK's built-in CloudFormation validation (a cfn-lint port run at every synth) costs about 8 s
// of CPU per synthesized app, most of the infra suites' time. The suites that check the sample
// app as `cdk synth` builds it switch it back on for that synth (`synthesizeSampleApp`'s
// `validate`); every other synth only needs the templates.
process.env.CDK_VALIDATION = 'false';
// Every construct records the stack trace of its creation as metadata (and jest maps each frame
// through source maps): about a fifth of the infra suites' CPU. No test reads those traces; the
// templates are the same without them. CDK reads this context from CDK_CONTEXT_JSON in every App.
process.env.CDK_CONTEXT_JSON = JSON.stringify({ 'aws:cdk:disable-stack-trace': true, 'aws:cdk:disable-creation-stack-traces': true });
