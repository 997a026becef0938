package io.drafter.storage.config;

/** A {@code --devices} JSON that cannot be used; the message names the device and the field. */
public final class DeviceConfigException extends IllegalArgumentException {
    public DeviceConfigException(String message) {
        super(message);
    }
}
