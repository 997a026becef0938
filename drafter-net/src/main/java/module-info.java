/** Network namespaces with NAT, port forwarding, and the {@code ip}/{@code nft}/{@code sysctl} runner. */
module io.drafter.net {
    requires transitive io.drafter.linux; // CommandFailedException.kind()
    requires com.fasterxml.jackson.annotation;
    requires com.fasterxml.jackson.databind;

    exports io.drafter.net;

    opens io.drafter.net to
            com.fasterxml.jackson.databind;
}
