import {
  CreateRule$,
  DescribeRules$,
  DescribeTargetGroupAttributes$,
  ModifyRule$,
  RegisterTargets$,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AwsServiceError, type QueryProtocolService } from '../../../local/contracts';
import {
  decodeQueryInput,
  encodeQueryResponse,
  operationShapesFromSdk,
  queryProtocolError,
} from '../../../local/endpoint/query';
import { startLocalEndpoint, type LocalEndpoint } from '../../../local/endpoint/server';
import { LocalSsm } from '../../../local/services/ssm';
import { rawRequest } from './harness';

// The AWS Query codec, driven by the operation shapes of the SDK model. The wire forms asserted
// here are the ones the SDK's QueryShapeSerializer / XmlShapeDeserializer (@aws-sdk/core
// protocols, AwsQueryProtocol with serializeEmptyLists) and botocore's QuerySerializer /
// QueryParser write and read; the error document is the one AwsQueryProtocol.handleError reads
// (Error.Code, Error.Message, RequestId).

const NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

describe('shapes from the SDK model', () => {
  it('knows each member, its wire type and which members are required', () => {
    const shapes = operationShapesFromSdk(CreateRule$);
    expect(shapes.name).toBe('CreateRule');
    expect(Object.keys(shapes.input.members)).toEqual(expect.arrayContaining(['ListenerArn', 'Conditions', 'Priority', 'Actions', 'Tags']));
    expect(shapes.input.members.Priority).toMatchObject({ shape: { type: 'number' }, required: true });
    expect(shapes.input.members.Tags.required).toBe(false);
    expect(shapes.input.members.Actions.shape).toMatchObject({ type: 'list', memberName: 'member', flattened: false });
  });
});

describe('decoding a form-encoded request', () => {
  const modifyRule = operationShapesFromSdk(ModifyRule$);

  it('reads nested structures (Field.Sub) and lists (Field.member.N) in index order', () => {
    const params = new URLSearchParams([
      ['Action', 'ModifyRule'],
      ['Version', '2015-12-01'],
      ['RuleArn', 'arn:rule'],
      ['Actions.member.1.Type', 'forward'],
      ['Actions.member.1.Order', '2'],
      ['Actions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn', 'arn:green'],
      ['Actions.member.1.ForwardConfig.TargetGroups.member.2.Weight', '10'],
      ['Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn', 'arn:blue'],
      ['Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight', '90'],
      ['Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled', 'true'],
      ['Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds', '300'],
    ]);
    expect(decodeQueryInput(modifyRule.input, params)).toEqual({
      RuleArn: 'arn:rule',
      Actions: [
        {
          Type: 'forward',
          Order: 2,
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: 'arn:blue', Weight: 90 },
              { TargetGroupArn: 'arn:green', Weight: 10 },
            ],
            TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 300 },
          },
        },
      ],
    });
  });

  it('reads `Field=` with no value as an empty list (AwsQueryProtocol serializeEmptyLists)', () => {
    const params = new URLSearchParams('Action=ModifyRule&Version=2015-12-01&RuleArn=arn%3Arule&Conditions=');
    expect(decodeQueryInput(modifyRule.input, params)).toEqual({ RuleArn: 'arn:rule', Conditions: [] });
  });

  it('refuses a missing required member with ValidationError, in the wording of AWS request validation', () => {
    const shapes = operationShapesFromSdk(DescribeTargetGroupAttributes$);
    expect(() => decodeQueryInput(shapes.input, new URLSearchParams('Action=DescribeTargetGroupAttributes'))).toThrow(
      expect.objectContaining({ code: 'ValidationError', message: expect.stringContaining("Value null at 'targetGroupArn'") }),
    );
  });

  it('refuses a value of the wrong type and a parameter that no member reads', () => {
    const shapes = operationShapesFromSdk(RegisterTargets$);
    expect(() =>
      decodeQueryInput(shapes.input, new URLSearchParams('TargetGroupArn=a&Targets.member.1.Id=10.0.0.1&Targets.member.1.Port=eighty')),
    ).toThrow(expect.objectContaining({ code: 'ValidationError' }));
    expect(() => decodeQueryInput(shapes.input, new URLSearchParams('TargetGroupArn=a&Targets.member.1.Id=x&Colour=blue'))).toThrow(
      expect.objectContaining({ code: 'InvalidQueryParameter', message: expect.stringContaining('Colour') }),
    );
  });
});

describe('encoding a response', () => {
  it('wraps the result in <ActionResponse><ActionResult>, lists in <member>, with the request id', () => {
    const shapes = operationShapesFromSdk(DescribeRules$);
    const xml = encodeQueryResponse(
      shapes,
      { Rules: [{ RuleArn: 'arn:<rule>&', Priority: 'default', Conditions: [], IsDefault: true }] },
      { xmlNamespace: NS, requestId: 'req-1' },
    );
    expect(xml).toContain(`<DescribeRulesResponse xmlns="${NS}"><DescribeRulesResult>`);
    expect(xml).toContain(
      '<Rules><member><RuleArn>arn:&lt;rule&gt;&amp;</RuleArn><Priority>default</Priority><Conditions></Conditions><IsDefault>true</IsDefault></member></Rules>',
    );
    expect(xml).toContain('</DescribeRulesResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeRulesResponse>');
  });

  it('renders an error as <ErrorResponse><Error><Type><Code><Message>, Sender for 4xx and Receiver for 5xx', () => {
    const client = queryProtocolError(new AwsServiceError('RuleNotFound', 'One or more rules not found'), { xmlNamespace: NS, requestId: 'r' });
    expect(client.statusCode).toBe(400);
    expect(client.body).toContain(
      '<Error><Type>Sender</Type><Code>RuleNotFound</Code><Message>One or more rules not found</Message></Error><RequestId>r</RequestId>',
    );
    const fault = queryProtocolError(new AwsServiceError('InternalFailure', 'boom', 500), { requestId: 'r' });
    expect(fault.statusCode).toBe(500);
    expect(fault.body).toContain('<Type>Receiver</Type>');
  });
});

describe('the endpoint dispatching Query requests', () => {
  let endpoint: LocalEndpoint;
  const echo: QueryProtocolService = {
    apiVersion: '2015-12-01',
    xmlNamespace: NS,
    queryOperations: {
      DescribeTargetGroupAttributes: {
        shapes: operationShapesFromSdk(DescribeTargetGroupAttributes$),
        handler: async (input) => ({ Attributes: [{ Key: 'arn', Value: String(input.TargetGroupArn) }] }),
      },
    },
  };
  const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

  beforeAll(async () => {
    endpoint = await startLocalEndpoint({ jsonServices: [new LocalSsm()], queryServices: [echo] });
  });
  afterAll(() => endpoint.close());

  it('answers an action of the version it serves with XML', async () => {
    const reply = await rawRequest(endpoint.url, {
      headers: form,
      body: 'Action=DescribeTargetGroupAttributes&Version=2015-12-01&TargetGroupArn=arn%3Atg',
    });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/xml');
    expect(reply.body).toContain('<Attributes><member><Key>arn</Key><Value>arn:tg</Value></member></Attributes>');
  });

  it('answers MissingAction, MissingParameter and InvalidAction (AWS "Common Errors") as XML errors', async () => {
    const [noAction, noVersion, unknownAction, unknownVersion] = await Promise.all(
      ['Version=2015-12-01', 'Action=DescribeRules', 'Action=DeleteEverything&Version=2015-12-01', 'Action=DescribeRules&Version=2012-06-01'].map(
        (body) => rawRequest(endpoint.url, { headers: form, body }),
      ),
    );
    const code = (body: string) => /<Code>(\w+)<\/Code>/.exec(body)?.[1];
    expect([noAction, noVersion, unknownAction, unknownVersion].map((r) => r.status)).toEqual([400, 400, 400, 400]);
    expect([noAction, noVersion, unknownAction, unknownVersion].map((r) => code(r.body))).toEqual([
      'MissingAction',
      'MissingParameter',
      'InvalidAction',
      'InvalidAction',
    ]);
    expect(unknownAction.body).toContain(`<ErrorResponse xmlns="${NS}">`);
  });

  it('still answers JSON-protocol requests as before', async () => {
    const reply = await rawRequest(endpoint.url, {
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.GetParameter' },
      body: JSON.stringify({ Name: '/nope' }),
    });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body)).toMatchObject({ __type: 'ParameterNotFound' });
  });

  it('refuses two Query services with the same API version', async () => {
    await expect(startLocalEndpoint({ jsonServices: [], queryServices: [echo, echo] })).rejects.toThrow(/API version '2015-12-01'/);
  });
});
