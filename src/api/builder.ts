// The Pothos schema builder shared by the API's type, query and mutation modules. Resolvers see the
// per-request context: the role's stores and probes, a request id, the caller's principal, and the
// request's DataLoaders.
import SchemaBuilder from '@pothos/core';
import type DataLoader from 'dataloader';
import type { GraphqlHandlerContext } from '../roles/roles.ts';
import type { EmployeeView } from '../store/types.ts';
import type { Principal } from './authentication.ts';
import type { EmployeeChangeFeed } from './employee-change-feed.ts';
import type { ExtraField } from './extra-fields.ts';

export interface ApiContext {
  app: GraphqlHandlerContext;
  /** Correlates a masked error with the server log line that holds its cause. */
  requestId: string;
  /** Reads PostgreSQL (the read model) by id, batched per request. */
  employeeById: DataLoader<number, EmployeeView | null>;
  /** Reads MySQL (the write model) by id, batched per request: the other side of `syncState`. */
  mysqlEmployeeById: DataLoader<number, EmployeeView | null>;
  /** Set by useAuthentication; with auth off, an `auth-off` principal with every right. */
  principal: Principal;
  /** The Kafka-fed source of subscriptions (one per API process). */
  changeFeed: EmployeeChangeFeed;
  /** The fields of columns a DBA added that this request's schema shows (src/api/extra-fields.ts). */
  extraFields: readonly ExtraField[];
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
