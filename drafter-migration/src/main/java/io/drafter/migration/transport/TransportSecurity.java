package io.drafter.migration.transport;

import javax.net.ssl.SSLContext;

/** How a migration connection is protected: TLS 1.3 with mutual authentication, or explicitly nothing. */
public sealed interface TransportSecurity {
    /** Plain TCP: no encryption, no authentication by the transport. Use a shared token, or know the network. */
    record PlainTcp() implements TransportSecurity {}

    /** TLS 1.3; the server side requires a client certificate. Make the context with {@link PemTls}. */
    record Tls(SSLContext context) implements TransportSecurity {}

    /** The explicit request for plain TCP. */
    static TransportSecurity plainTcp() {
        return new PlainTcp();
    }

    static TransportSecurity tls(SSLContext context) {
        return new Tls(context);
    }
}
