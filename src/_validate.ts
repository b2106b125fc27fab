/**
 * A topic's schema applied to values on their way out, as every publishing
 * path applies it: the producer's `publish`, `publishAndForget` and
 * `publishBatch`, and the Hono adapter's early check before a producer is at hand.
 *
 * @module
 */
import * as v from "valibot";
import { ValidationError } from "./errors.ts";
import type { Topic } from "./topic.ts";

/** `value` as the topic's schema outputs it, or a {@link ValidationError} naming the topic. */
export function validValue<S extends v.GenericSchema>(topic: Topic<S>, value: unknown): v.InferOutput<S> {
  const result = v.safeParse(topic.schema, value);
  if (!result.success) throw new ValidationError(topic.name, result.issues);
  return result.output;
}

/**
 * Every record's value as the topic's schema outputs it, in order, or one
 * {@link ValidationError} with the issues of every refused record, each path
 * prefixed by the record's index (`[3].total`).
 */
export function validValues<S extends v.GenericSchema>(topic: Topic<S>, records: readonly { readonly value: unknown }[]): v.InferOutput<S>[] {
  const values: v.InferOutput<S>[] = [];
  const issues: v.BaseIssue<unknown>[] = [];
  const indexOf = new Map<v.BaseIssue<unknown>, number>();
  records.forEach((record, index) => {
    const result = v.safeParse(topic.schema, record.value);
    if (result.success) {
      values.push(result.output);
      return;
    }
    for (const issue of result.issues) {
      issues.push(issue);
      indexOf.set(issue, index);
    }
  });
  if (issues.length > 0) {
    throw new ValidationError(topic.name, issues, (issue) => `[${indexOf.get(issue)}]` + (issue.path ? "." : ""));
  }
  return values;
}
