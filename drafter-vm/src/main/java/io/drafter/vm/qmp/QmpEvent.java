package io.drafter.vm.qmp;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * An asynchronous QMP event such as {@code STOP}, {@code RESUME} or {@code MIGRATION}.
 *
 * @param name the event name
 * @param data the event's {@code data} object (an empty object when absent)
 * @param timestampMicros QEMU's timestamp of the event in microseconds since the epoch
 */
public record QmpEvent(String name, JsonNode data, long timestampMicros) {}
