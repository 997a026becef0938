# Sourced by every project script: pins the JDK this project builds and runs with.
# The machine's default java is 17; Drafter needs 25.
if [ -z "${DRAFTER_JAVA_HOME:-}" ]; then
  for candidate in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/java-25-openjdk-amd64; do
    if [ -x "$candidate/bin/java" ]; then DRAFTER_JAVA_HOME=$candidate; break; fi
  done
fi
if [ -z "${DRAFTER_JAVA_HOME:-}" ]; then
  echo "drafter: no JDK 25 found under /usr/lib/jvm (install Temurin 25 or set DRAFTER_JAVA_HOME)" >&2
  return 1 2>/dev/null || exit 1
fi
export JAVA_HOME=$DRAFTER_JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
export MAVEN_OPTS="${MAVEN_OPTS:--Xmx1g}"
