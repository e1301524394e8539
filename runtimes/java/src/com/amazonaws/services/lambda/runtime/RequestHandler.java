package com.amazonaws.services.lambda.runtime;

/** A handler whose input and output the runtime (de)serializes. */
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
