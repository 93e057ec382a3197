import type { SSMClient } from '@aws-sdk/client-ssm';
import { ServiceConfigSchema, type ServiceConfig } from './config';
import { parameterNames } from './documents';
import { ConfigNotFoundError, StateConflictError, ValidationError } from './errors';
import { SsmDocuments } from './ssm-documents';

/**
 * Loads and validates `/ecs-release/<service>/config`. A missing parameter is a
 * {@link ConfigNotFoundError}; a document that fails the schema is a {@link ValidationError}
 * naming each bad field, so the operator knows what to fix before anything is touched.
 */
export async function loadServiceConfig(ssm: SSMClient, service: string): Promise<ServiceConfig> {
  const name = parameterNames(service).config;
  let config: ServiceConfig | null;
  try {
    config = await new SsmDocuments(ssm).get(name, ServiceConfigSchema);
  } catch (error) {
    if (error instanceof StateConflictError) {
      throw new ValidationError(`Invalid service configuration: ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (!config) {
    throw new ConfigNotFoundError(
      `Service '${service}' has no configuration at ${name}. Deploy its ReleasePipeline construct (or write the parameter) first.`,
    );
  }
  if (config.service !== service) {
    throw new ValidationError(`Configuration at ${name} is for service '${config.service}', not '${service}'`);
  }
  return config;
}
