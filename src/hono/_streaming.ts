/**
 * The answer of `POST .../records`: one record (status = its outcome), or
 * several concatenated records (streaming mode: 200, one result line per
 * record, in order, written as they settle while later records are still
 * being published). Streaming work runs in the app's turns.
 *
 * @module
 */
import type { Context } from "hono";
import { stream } from "hono/streaming";
import { type JsonChunk, splitJsonObjects } from "../_json_stream.ts";
import { errorResponse, invalid } from "./errors.ts";
import { type BoundProducer, inFlightUntil, type KafkaEnv } from "./kafka.ts";
import type { AnyTopic } from "./records.ts";
import type { RecordOutcome } from "./responses.ts";
import { AnswerQueue } from "./_answer_queue.ts";
import { produce } from "./_produce.ts";
import type { PublishConfig } from "./_publish_config.ts";
import type { Turns } from "./_turns.ts";

/**
 * Publish the record, or each of the concatenated records (streaming mode),
 * of a produce request's non-empty `body`; `isStream` once it holds more
 * than one record; `release` (the request's tenant slot) once its last
 * answer is written.
 */
export function answerRecords(
  c: Context<KafkaEnv>,
  config: PublishConfig,
  topic: AnyTopic,
  body: Uint8Array,
  release: () => void,
  isStream: () => void,
): Promise<Response> {
  const kafka = c.var.kafka;
  const { turns } = config;
  const chunks = splitJsonObjects(body);
  // The body is not blank: there is a first chunk. A second one decides between one answer and a stream of them.
  const first = produceChunk(config, kafka, topic, chunks.next().value!, 0, chunks);
  const second = first.last ? undefined : chunks.next();
  if (second === undefined || second.done) {
    return first.answer.then((result) => {
      release();
      return "status" in result ? errorResponse(result) : c.json(result, 200);
    });
  }
  isStream();
  c.header("Content-Type", "application/json");
  // The response is returned before its results are written: the request is in flight until the last one is.
  let written!: () => void;
  inFlightUntil(kafka, new Promise<void>((resolve) => (written = resolve)));
  // Answers are written in request order, as they settle, while later records are still being published.
  const answers = new AnswerQueue();
  answers.push(first.answer);
  void publishRest(config, kafka, topic, chunks, second.value, answers);
  return Promise.resolve(stream(c, async (out) => {
    try {
      // Each turn writes the answers settled by then, in order, as one chunk.
      while (await answers.settled()) {
        if (turns.over()) await turns.take();
        let text = "";
        for (let result = answers.shift(); result !== undefined; result = turns.over() ? undefined : answers.shift()) {
          text += JSON.stringify("status" in result ? result.body : result) + "\n";
        }
        await out.write(text);
      }
    } finally {
      release();
      written();
    }
  }, async () => {
    // The client went away: the publishes still settle; there is nobody to tell.
  }));
}

/**
 * Most records of one stream awaiting Kafka at once; the next is framed once
 * one of them settled. A stream's records in flight are what the runtime's
 * young-generation collections copy, each pause stopping every request: the
 * window keeps that work small however large the body, at a rate of
 * {@link STREAM_WINDOW} records per delivery round trip for one stream.
 */
const STREAM_WINDOW = 256;

/** One framed record's answer; `last`: the request ends with it. */
interface RecordAnswer {
  readonly answer: Promise<RecordOutcome>;
  readonly last: boolean;
}

/**
 * What one framed record of a request becomes: its answer, and whether it
 * ends the request (nothing after it can be framed, or a bound was reached).
 * At a bound, the records after it (`rest`, framed only to be counted) are
 * neither published nor answered: its answer says how many were refused.
 */
function produceChunk(
  config: PublishConfig,
  kafka: BoundProducer,
  topic: AnyTopic,
  chunk: JsonChunk,
  index: number,
  rest: Iterator<JsonChunk>,
): RecordAnswer {
  const { maxRecordsPerRequest, turns } = config;
  if ("malformed" in chunk) return { answer: Promise.resolve(invalid(chunk.malformed)), last: true };
  if (index >= maxRecordsPerRequest) {
    const answer = refusedFrom(rest, turns).then((refused): RecordOutcome => {
      const message = `At most ${maxRecordsPerRequest} records per request: ${refused}`;
      return { status: 413, body: { error_code: 413, message } };
    });
    return { answer, last: true };
  }
  let input: unknown;
  try {
    input = JSON.parse(chunk.text);
  } catch {
    return { answer: Promise.resolve(invalid("Malformed JSON in request body")), last: false };
  }
  const answer = produce(config, kafka, topic, input);
  // At the tenant's bound on records in flight the stream ends: later records would only be refused too, or,
  // published after it, out of the order the client sent them in.
  if (answer !== config.refusedRecord) return { answer, last: false };
  const refused = refusedFrom(rest, turns).then((refused): RecordOutcome => {
    const message = `Too many records: at most ${config.maxRecordsInFlight} of one tenant awaiting Kafka at once; ${refused}`;
    return { status: 429, body: { error_code: 429, message }, retryAfterSeconds: config.retryAfterSeconds };
  });
  return { answer: refused, last: true };
}

/**
 * Publish the records of a streaming request from its second on, in order
 * (the producer keeps that order per partition), in the app's turns:
 * framing, parsing and validating a 1 MiB body is tens of ms of work, which
 * then holds back other requests, /healthz or delivery reports for one turn at most.
 */
async function publishRest(
  config: PublishConfig,
  kafka: BoundProducer,
  topic: AnyTopic,
  chunks: Generator<JsonChunk>,
  second: JsonChunk,
  answers: AnswerQueue,
): Promise<void> {
  try {
    let index = 1;
    for (let chunk: JsonChunk | undefined = second; chunk !== undefined; index++) {
      const room = answers.below(STREAM_WINDOW);
      if (room !== undefined) await room;
      if (config.turns.over()) await config.turns.take();
      const { answer, last } = produceChunk(config, kafka, topic, chunk, index, chunks);
      answers.push(answer);
      if (last) break;
      const next = chunks.next();
      chunk = next.done ? undefined : next.value;
    }
  } finally {
    answers.end();
  }
}

/**
 * What a bound refused: the record at it and every one `rest` still frames
 * (a part that cannot be framed counts as one, as it would have been
 * answered). Framing the rest of a 1 MiB body takes ms: it takes turns too.
 */
async function refusedFrom(rest: Iterator<JsonChunk>, turns: Turns): Promise<string> {
  let after = 0;
  for (;;) {
    if (turns.over()) await turns.take();
    if (rest.next().done) break;
    after++;
  }
  return `${after + 1} ${after === 0 ? "record was" : "records were"} refused (this one and the ${after} after it), none of them published`;
}
