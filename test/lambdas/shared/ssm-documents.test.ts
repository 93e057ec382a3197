import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { z } from 'zod';
import { StateConflictError } from '../../../lambdas/shared/errors';
import { isParameterNotFound, SsmDocuments } from '../../../lambdas/shared/ssm-documents';
import { awsError, parameter, parameterAlreadyExists, parameterNotFound } from '../../support/release-documents';

const ssm = mockClient(SSMClient);
const docs = new SsmDocuments(new SSMClient({}));

const NAME = '/ecs-release/colorapp/lock';
const Schema = z.object({ owner: z.string(), count: z.number().int().default(0) });

beforeEach(() => ssm.reset());

describe('SsmDocuments.get', () => {
  it('reads the parameter and returns the document parsed by the schema (defaults filled)', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAME, { owner: 'rel-1' }));

    await expect(docs.get(NAME, Schema)).resolves.toStrictEqual({ owner: 'rel-1', count: 0 });
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 1);
    expect(ssm.commandCalls(GetParameterCommand)[0].args[0].input).toStrictEqual({ Name: NAME });
  });

  it.each(['ParameterNotFound', 'ParameterNotFoundException'])('returns null when SSM says %s', async (name) => {
    ssm.on(GetParameterCommand).rejects(name === 'ParameterNotFound' ? parameterNotFound() : awsError(name));

    await expect(docs.get(NAME, Schema)).resolves.toBeNull();
  });

  it('returns null when the response carries no value', async () => {
    ssm.on(GetParameterCommand).resolves({ $metadata: {} });

    await expect(docs.get(NAME, Schema)).resolves.toBeNull();
  });

  it('is a StateConflictError, caused by the parse error, when the value is not JSON', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAME, '{"owner": "rel-1"'));

    const error = await docs.get(NAME, Schema).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StateConflictError);
    expect((error as Error).name).toBe('StateConflictError');
    expect((error as Error).message).toBe(`Parameter ${NAME} is not valid JSON; fix or delete it by hand`);
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it('is a StateConflictError naming each bad field when the document does not match its schema', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAME, { count: 1.5 }));

    const error = await docs.get(NAME, Schema).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StateConflictError);
    expect((error as Error).message).toMatch(new RegExp(`^Parameter ${NAME} does not match its schema: owner: .+; count: .+$`));
  });

  it('lets any other error through unchanged', async () => {
    const denied = awsError('AccessDeniedException', 'not authorized to perform ssm:GetParameter');
    ssm.on(GetParameterCommand).rejects(denied);

    await expect(docs.get(NAME, Schema)).rejects.toBe(denied);
  });

  it('retries a throttled read', async () => {
    ssm.on(GetParameterCommand).rejectsOnce(awsError('ThrottlingException')).resolves(parameter(NAME, { owner: 'rel-1' }));

    await expect(docs.get(NAME, Schema)).resolves.toEqual({ owner: 'rel-1', count: 0 });
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 2);
  });
});

describe('SsmDocuments.getRaw', () => {
  it('returns the string value as stored', async () => {
    ssm.on(GetParameterCommand).resolves(parameter(NAME, 'not json at all'));

    await expect(docs.getRaw(NAME)).resolves.toBe('not json at all');
  });
});

describe('SsmDocuments.put', () => {
  it('writes the document as a JSON String parameter, exactly as asked', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 1, $metadata: {} });

    await expect(docs.put(NAME, { owner: 'rel-1', count: 2 }, { overwrite: false, description: 'Release lock for colorapp' })).resolves.toBe(true);

    expect(ssm).toHaveReceivedCommandTimes(PutParameterCommand, 1);
    expect(ssm.commandCalls(PutParameterCommand)[0].args[0].input).toStrictEqual({
      Name: NAME,
      Value: '{"owner":"rel-1","count":2}',
      Type: 'String',
      Overwrite: false,
      Tier: 'Intelligent-Tiering',
      Description: 'Release lock for colorapp',
    });
  });

  it('overwrites when asked, with no description', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 2, $metadata: {} });

    await expect(docs.put(NAME, { owner: 'rel-1' }, { overwrite: true })).resolves.toBe(true);

    expect(ssm.commandCalls(PutParameterCommand)[0].args[0].input).toStrictEqual({
      Name: NAME,
      Value: '{"owner":"rel-1"}',
      Type: 'String',
      Overwrite: true,
      Tier: 'Intelligent-Tiering',
      Description: undefined,
    });
  });

  it('returns false when a create-if-absent write finds the parameter already there', async () => {
    ssm.on(PutParameterCommand).rejects(parameterAlreadyExists());

    await expect(docs.put(NAME, { owner: 'rel-1' }, { overwrite: false })).resolves.toBe(false);
    expect(ssm).toHaveReceivedCommandTimes(PutParameterCommand, 1);
  });

  it('throws ParameterAlreadyExists on an overwrite: only a create may lose quietly', async () => {
    ssm.on(PutParameterCommand).rejects(parameterAlreadyExists());

    await expect(docs.put(NAME, { owner: 'rel-1' }, { overwrite: true })).rejects.toMatchObject({ name: 'ParameterAlreadyExists' });
  });

  it('throws any other error of a create-if-absent write', async () => {
    const denied = awsError('AccessDeniedException');
    ssm.on(PutParameterCommand).rejects(denied);

    await expect(docs.put(NAME, { owner: 'rel-1' }, { overwrite: false })).rejects.toBe(denied);
  });

  it('retries a throttled write with the same input', async () => {
    ssm.on(PutParameterCommand).rejectsOnce(awsError('ThrottlingException')).resolves({ Version: 1, $metadata: {} });

    await expect(docs.put(NAME, { owner: 'rel-1' }, { overwrite: true })).resolves.toBe(true);

    const [first, second] = ssm.commandCalls(PutParameterCommand).map((call) => call.args[0].input);
    expect(second).toStrictEqual(first);
  });
});

describe('SsmDocuments.delete', () => {
  it('deletes the parameter', async () => {
    ssm.on(DeleteParameterCommand).resolves({ $metadata: {} });

    await docs.delete(NAME);

    expect(ssm.commandCalls(DeleteParameterCommand)[0].args[0].input).toStrictEqual({ Name: NAME });
  });

  it('treats a parameter that is already gone as deleted', async () => {
    ssm.on(DeleteParameterCommand).rejects(parameterNotFound());

    await expect(docs.delete(NAME)).resolves.toBeUndefined();
  });

  it('throws any other error', async () => {
    const denied = awsError('AccessDeniedException');
    ssm.on(DeleteParameterCommand).rejects(denied);

    await expect(docs.delete(NAME)).rejects.toBe(denied);
  });
});

describe('isParameterNotFound', () => {
  it.each<[string, unknown, boolean]>([
    ['the SDK exception', parameterNotFound(), true],
    ['the older exception name', awsError('ParameterNotFoundException'), true],
    ['another SSM error', awsError('ParameterVersionNotFound'), false],
    ['a plain object with the name', { name: 'ParameterNotFound' }, false],
  ])('is %s -> %s', (_case, error, expected) => {
    expect(isParameterNotFound(error)).toBe(expected);
  });
});
