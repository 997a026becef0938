package io.drafter.net;

/** A forward could not be installed because its address is taken (by a socket, or by another forwarder's table). */
public final class AddressInUseException extends NetException {
    public AddressInUseException(String message) {
        super(message);
    }
}
