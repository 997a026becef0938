/** The vocabulary every Drafter module shares: device roles, Go's duration syntax. */
module io.drafter.base {
    exports io.drafter.base;
}
