# Sourced by bin/drafter and the build steps: drafter's AOT cache (JDK 25, JEP 483/514/515), made by
# scripts/train-aot.sh from a peer that migrated a VM in and out again. The JVM takes a cache only for the jar it was
# trained with, checked by the jar's modification time and size; `mvn install` rewrites the jar with the same bytes
# and a new time, so the stamp next to the cache keeps the jar's hash too and `aot_keep` puts the time back when the
# bytes did not change. Everything here is read-only except `aot_keep` and `aot_stamp`.
#   stamp (CACHE.stamp): SHA256 MTIME SIZE JAVA_RUNTIME_VERSION CACHE_MTIME_NS CACHE_SIZE
# The JVM maps the cache without checking it (a damaged one crashes it; -XX:+VerifySharedSpaces checks a checksum but
# costs 200 ms at every start), so the stamp also records the cache's own time and size as the training left them: a
# cache written since is not used.

aot_jdk() { sed -n 's/^JAVA_RUNTIME_VERSION="\(.*\)"$/\1/p' "$JAVA_HOME/release" 2>/dev/null; }

# aot_usable JAR CACHE: true when the JVM would take CACHE for JAR: the stamp matches JAR's time and size, this JDK and
# CACHE as the training left it; and CACHE, which the JVM maps as code, belongs to JAR's owner and only its owner may
# write it (the stamp decides nothing but whether to try, so it is not checked the same way).
aot_usable() {
  local jar=$1 cache=$2 sha mtime size jdk cmtime csize
  [ -f "$cache" ] && [ -f "$cache.stamp" ] && [ -f "$jar" ] || return 1
  read -r sha mtime size jdk cmtime csize <"$cache.stamp" || return 1
  [ "$(stat -c '%Y %s' "$jar")" = "$mtime $size" ] && [ "$jdk" = "$(aot_jdk)" ] || return 1
  local owner mode cstat
  read -r owner mode cstat < <(stat -c '%u %a %.9Y:%s' "$cache")
  [ "$cstat" = "$cmtime:$csize" ] && [ "$owner" = "$(stat -c %u "$jar")" ] && [ $((8#$mode & 8#022)) = 0 ]
}

# aot_stamp JAR CACHE: records JAR as the jar CACHE was trained with.
aot_stamp() {
  local jar=$1 cache=$2
  echo "$(sha256sum "$jar" | cut -d' ' -f1) $(stat -c '%Y %s' "$jar") $(aot_jdk) $(stat -c '%.9Y %s' "$cache")" \
    >"$cache.stamp.tmp"
  mv -f "$cache.stamp.tmp" "$cache.stamp"
}

# aot_keep JAR CACHE: after a build, gives JAR back the time recorded in the stamp when its bytes are the ones CACHE
# was trained with, so the cache stays usable; otherwise leaves both alone (the cache is then stale and unused).
aot_keep() {
  local jar=$1 cache=$2 sha mtime size jdk
  [ -f "$cache.stamp" ] && [ -f "$jar" ] || return 0
  read -r sha mtime size jdk <"$cache.stamp" || return 0
  if [ "$(stat -c '%Y %s' "$jar")" != "$mtime $size" ] && [ "$(stat -c %s "$jar")" = "$size" ] \
    && [ "$(sha256sum "$jar" | cut -d' ' -f1)" = "$sha" ]; then
    touch -m -d "@$mtime" "$jar"
  fi
}

# aot_whole: true when the JVM, run as bin/drafter runs it, takes all of bin/drafter's cache. -XX:AOTMode=on fails on a
# cache the JVM cannot map, but maps one whose module graph it cannot use (its AOT-linked classes then unused) with only
# "[error][aot]" lines on stderr, as a cache trained once here showed; what the JVM said goes to stdout when it is not.
aot_whole() {
  local said
  said=$(DRAFTER_JAVA_OPTS="-XX:AOTMode=on" "$(dirname "${BASH_SOURCE[0]}")/../bin/drafter" --version 2>&1) \
    && ! grep -q '\[error\]\[aot' <<<"$said" && return 0
  echo "$said"
  return 1
}
