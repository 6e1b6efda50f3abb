/**
 * The SQS face's closed set of errors: each with the code the Query protocol
 * answers (and the JSON protocol repeats in `x-amzn-query-error`, which the
 * AWS SDKs map to their exception classes) and its HTTP status, as SQS's own
 * API model states them. Every error the SQS endpoint answers is one of these.
 */
import type { ErrorCode } from "../../client/protocol";
import { logEvent } from "../../durable-objects/contract";
import { ApiError } from "../errors";

/** Error name (the JSON protocol's `__type`) -> Query code and HTTP status. */
export const SQS_ERRORS = {
  // The errors of SQS's API model (the SDKs have a class for each).
  QueueDoesNotExist: { code: "AWS.SimpleQueueService.NonExistentQueue", status: 400 },
  QueueNameExists: { code: "QueueAlreadyExists", status: 400 },
  ReceiptHandleIsInvalid: { code: "ReceiptHandleIsInvalid", status: 404 },
  MessageNotInflight: { code: "AWS.SimpleQueueService.MessageNotInflight", status: 400 },
  InvalidAttributeName: { code: "InvalidAttributeName", status: 400 },
  InvalidAttributeValue: { code: "InvalidAttributeValue", status: 400 },
  InvalidMessageContents: { code: "InvalidMessageContents", status: 400 },
  InvalidAddress: { code: "InvalidAddress", status: 404 },
  TooManyEntriesInBatchRequest: { code: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", status: 400 },
  BatchEntryIdsNotDistinct: { code: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", status: 400 },
  EmptyBatchRequest: { code: "AWS.SimpleQueueService.EmptyBatchRequest", status: 400 },
  InvalidBatchEntryId: { code: "AWS.SimpleQueueService.InvalidBatchEntryId", status: 400 },
  BatchRequestTooLong: { code: "AWS.SimpleQueueService.BatchRequestTooLong", status: 400 },
  ResourceNotFoundException: { code: "ResourceNotFoundException", status: 404 },
  UnsupportedOperation: { code: "AWS.SimpleQueueService.UnsupportedOperation", status: 400 },
  RequestThrottled: { code: "RequestThrottled", status: 403 },
  // The errors common to AWS's query services.
  InvalidParameterValue: { code: "InvalidParameterValue", status: 400 },
  MissingParameter: { code: "MissingParameter", status: 400 },
  InvalidAction: { code: "InvalidAction", status: 400 },
  MalformedQueryString: { code: "MalformedQueryString", status: 400 },
  SerializationException: { code: "SerializationException", status: 400 },
  RequestEntityTooLarge: { code: "RequestEntityTooLarge", status: 413 },
  InvalidClientTokenId: { code: "InvalidClientTokenId", status: 403 },
  SignatureDoesNotMatch: { code: "SignatureDoesNotMatch", status: 403 },
  AccessDenied: { code: "AccessDenied", status: 403 },
  InternalFailure: { code: "InternalFailure", status: 500 },
  ServiceUnavailable: { code: "ServiceUnavailable", status: 503 },
} as const;

/** One of the closed set of SQS error names. */
export type SqsErrorName = keyof typeof SQS_ERRORS;

/** An error the SQS endpoint answers in the request's protocol; its message is safe to show. */
export class SqsError extends Error {
  constructor(
    readonly errorName: SqsErrorName,
    message: string,
  ) {
    super(message);
  }

  /** The Query code, which the JSON protocol also sends in `x-amzn-query-error`. */
  get code(): string {
    return SQS_ERRORS[this.errorName].code;
  }

  get status(): number {
    return SQS_ERRORS[this.errorName].status;
  }

  /** `Sender` for the caller's faults, `Receiver` for edgeq's. */
  get fault(): "Sender" | "Receiver" {
    return this.status >= 500 ? "Receiver" : "Sender";
  }
}

/** SQS's own wording for a parameter whose value is refused. */
export const invalidParameter = (name: string, reason: string) =>
  new SqsError("InvalidParameterValue", `Value for parameter ${name} is invalid. Reason: ${reason}`);

export const missingParameter = (name: string) =>
  new SqsError("MissingParameter", `The request must contain the parameter ${name}.`);

/** How each edgeq error code reads in SQS, for the operations the SQS actions share with the v1 API. */
const FROM_EDGEQ: Partial<Record<ErrorCode, SqsErrorName>> = {
  QUEUE_NOT_FOUND: "QueueDoesNotExist",
  INVALID_REQUEST: "InvalidParameterValue",
  INVALID_VALUE: "InvalidParameterValue",
  CONFLICT: "InvalidParameterValue",
  PAYLOAD_TOO_LARGE: "InvalidParameterValue",
  QUEUE_FULL: "RequestThrottled",
  RATE_LIMITED: "RequestThrottled",
  UNAVAILABLE: "ServiceUnavailable",
};

/**
 * Any error thrown while serving an SQS request, as an SqsError: edgeq's own
 * codes by the table above, a failure the runtime marks as retryable as
 * ServiceUnavailable, anything else as InternalFailure (with nothing of it
 * shown).
 */
export function toSqsError(err: unknown): SqsError {
  if (err instanceof SqsError) return err;
  if (err instanceof ApiError) {
    const name = FROM_EDGEQ[err.code];
    if (name) return new SqsError(name, err.message);
  }
  const failure = err as { retryable?: unknown; overloaded?: unknown };
  if (failure?.retryable === true || failure?.overloaded === true) {
    logEvent("partition_unavailable", { via: "sqs", error: String(err), overloaded: failure.overloaded === true });
    return new SqsError("ServiceUnavailable", "a partition could not be reached; retry");
  }
  logEvent("internal_error", { via: "sqs", error: String(err) });
  return new SqsError("InternalFailure", "internal error");
}
