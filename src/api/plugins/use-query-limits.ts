// Limits on what one document may ask for, checked before execution (graphql-armor): depth, aliases,
// directives, tokens, and an estimated cost. Rejections carry extensions.code GRAPHQL_VALIDATION_FAILED
// (or GRAPHQL_PARSE_FAILED for the token limit, which armor enforces while parsing).
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const queryLimits = {
  maxDepth: 10,
  maxAliases: 15,
  maxDirectives: 50,
  maxTokens: 1000,
  maxCost: 5000,
} as const;

// Report a rejection as a validation error (so it gets its code and every limit hit is listed) instead
// of throwing from the validation rule, which would skip the other validation hooks.
const reportAsValidationError = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

export function useQueryLimits(): Plugin {
  return EnvelopArmorPlugin({
    maxDepth: { n: queryLimits.maxDepth, ignoreIntrospection: true, ...reportAsValidationError },
    maxAliases: { n: queryLimits.maxAliases, ...reportAsValidationError },
    maxDirectives: { n: queryLimits.maxDirectives, ...reportAsValidationError },
    // Counted while parsing: there is no validation context yet, so the parser throws (a parse error).
    maxTokens: { n: queryLimits.maxTokens },
    costLimit: { maxCost: queryLimits.maxCost, ignoreIntrospection: true, ...reportAsValidationError },
    // "Did you mean …?" hints would reveal field names even with introspection off.
    blockFieldSuggestion: { enabled: true },
  }) as Plugin;
}
