import {
  DeleteParameterCommand,
  GetParameterCommand,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import * as z from 'zod';
import { StateConflictError } from './errors';
import { withThrottlingRetry } from './retry';
import { formatIssues } from './validation';

/**
 * JSON documents in SSM Parameter Store, validated on the way in and out. A document that does
 * not match its schema is a {@link StateConflictError}: we never act on a state we cannot read.
 */
export class SsmDocuments {
  constructor(private readonly ssm: SSMClient) {}

  /** Reads and validates a document; `null` when the parameter does not exist. */
  async get<S extends z.ZodType>(name: string, schema: S): Promise<z.infer<S> | null> {
    const raw = await this.getRaw(name);
    if (raw === null) return null;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      throw new StateConflictError(`Parameter ${name} is not valid JSON; fix or delete it by hand`, { cause: error });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new StateConflictError(`Parameter ${name} does not match its schema: ${formatIssues(parsed.error)}`);
    }
    return parsed.data;
  }

  /** Reads a parameter's raw string value; `null` when it does not exist. */
  async getRaw(name: string): Promise<string | null> {
    try {
      const out = await withThrottlingRetry(`GetParameter ${name}`, () =>
        this.ssm.send(new GetParameterCommand({ Name: name })),
      );
      return out.Parameter?.Value ?? null;
    } catch (error) {
      if (isParameterNotFound(error)) return null;
      throw error;
    }
  }

  /**
   * Writes a document. With `overwrite: false` the write is atomic create-if-absent and returns
   * `false` when the parameter already exists (SSM's `ParameterAlreadyExists`). Intelligent
   * tiering keeps small documents in the free Standard tier (4 KB) and moves one that grows
   * past it (a long task token, a busy history) to Advanced (8 KB) instead of failing the write.
   */
  async put(name: string, value: unknown, options: { overwrite: boolean; description?: string }): Promise<boolean> {
    try {
      await withThrottlingRetry(`PutParameter ${name}`, () =>
        this.ssm.send(
          new PutParameterCommand({
            Name: name,
            Value: JSON.stringify(value),
            Type: 'String',
            Overwrite: options.overwrite,
            Tier: 'Intelligent-Tiering',
            Description: options.description,
          }),
        ),
      );
      return true;
    } catch (error) {
      if (!options.overwrite && (error as Error).name === 'ParameterAlreadyExists') return false;
      throw error;
    }
  }

  /** Deletes a parameter; deleting one that is already gone is not an error. */
  async delete(name: string): Promise<void> {
    try {
      await withThrottlingRetry(`DeleteParameter ${name}`, () => this.ssm.send(new DeleteParameterCommand({ Name: name })));
    } catch (error) {
      if (!isParameterNotFound(error)) throw error;
    }
  }
}

/** True for SSM's "no such parameter" error. */
export function isParameterNotFound(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ParameterNotFound' || error.name === 'ParameterNotFoundException');
}
