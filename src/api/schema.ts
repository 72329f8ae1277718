// The GraphQL schema of empsync (the published design's contract plus additions), built once.
import type { GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './employee-type.ts';
import './queries.ts';
import './employees-connection.ts';
import './sync-status.ts';
import './mutations.ts';
import './dead-letters.ts';
import './operator.ts';
import './subscriptions.ts';

let schema: GraphQLSchema | undefined;

export function apiSchema(): GraphQLSchema {
  schema ??= builder.toSchema({ sortSchema: false });
  return schema;
}
