// DateTime: an instant as an ISO-8601 string. Stores hand timestamps over as ISO-8601 UTC strings
// with microseconds; they are served as they are so no precision is lost on the way out.
import { GraphQLError, Kind } from 'graphql';
import { ErrorCodes } from '../errors.ts';
import { builder } from './builder.ts';

function parseInstant(value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError('DateTime must be an ISO-8601 string.', {
      extensions: { code: ErrorCodes.BAD_USER_INPUT },
    });
  }
  return value;
}

builder.scalarType('DateTime', {
  description: 'An instant, serialised as an ISO-8601 string (UTC).',
  serialize: (value) => (value instanceof Date ? value.toISOString() : value),
  parseValue: parseInstant,
  parseLiteral: (node) => parseInstant(node.kind === Kind.STRING ? node.value : undefined),
});
