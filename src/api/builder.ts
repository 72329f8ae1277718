// The Pothos schema builder shared by the API's type, query and mutation modules. Resolvers see the
// per-request context: the role's stores and probes, a request id, and the request's DataLoaders.
import SchemaBuilder from '@pothos/core';
import type DataLoader from 'dataloader';
import type { GraphqlHandlerContext } from '../roles/roles.ts';
import type { EmployeeRow } from '../store/types.ts';

export interface ApiContext {
  app: GraphqlHandlerContext;
  /** Correlates a masked error with the server log line that holds its cause. */
  requestId: string;
  /** Reads PostgreSQL (the read model) by id, batched per request. */
  employeeById: DataLoader<number, EmployeeRow | null>;
}

export interface ApiSchemaTypes {
  Context: ApiContext;
  // The contract's fields are non-null unless marked otherwise (employeParId, updateEmploye).
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: string; Output: string | Date };
  };
}

export const builder = new SchemaBuilder<ApiSchemaTypes>({ defaultFieldNullability: false });
