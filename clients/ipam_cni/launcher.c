/*
 * ipam-cni, the native launcher written by `ipam-cni install` (C99 + POSIX/Linux, no dependencies).
 *
 * The same fast path as ipam_cni/launcher.py, without an interpreter's start-up: read all of
 * stdin; for ADD, DEL, CHECK, GC and STATUS, find the agent socket the config names by the rules
 * of ipam_cni.forward.agent_socket() and send the invocation unparsed, framed as
 * ipam_cni.forward.frame() frames it; on the agent's answer `<status>\n<output>`, print the output
 * and exit with the status. In every other case (another command, a config that is not the plain
 * case, an agent that cannot be reached, a `fallback` or malformed answer) it executes the Python
 * launcher with the same environment and the original stdin replayed from a memfd (or an unlinked
 * temporary file), passing `--no-forward` so that the Python side runs the plugin in its own
 * process at once instead of asking the agent again.
 *
 * The Python launcher's path is compiled in (`ipam-cni install` passes
 * -DIPAM_CNI_PYTHON_LAUNCHER="\"DIR/.ipam-cni-python\""); built without it, the launcher looks for
 * `.<its name>-python` beside its own resolved executable (/proc/self/exe).
 *
 * Build: cc -O2 -Wall -Wextra -std=c99 -o ipam-cni launcher.c
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#ifndef IPAM_CNI_DEFAULT_SOCKET /* another for tests only */
#define IPAM_CNI_DEFAULT_SOCKET "/run/ipam/agent.sock" /* ipam_cni.protocol.DEFAULT_SOCKET */
#endif
#define AGENT_TIMEOUT_SECONDS 60              /* ipam_cni.launcher.AGENT_TIMEOUT */
#define MAGIC "CNI-EXEC 1\n"                  /* ipam_cni.forward.MAGIC */
#define FALLBACK "fallback\n"                 /* ipam_cni.forward.FALLBACK */
#define LATEST_VERSION "1.1.0"                /* ipam_cni.config.LATEST_VERSION */
#define NO_FORWARD_FLAG "--no-forward"        /* ipam_cni.launcher.NO_FORWARD */

struct buffer {
    char *data;
    size_t len;
    size_t cap;
};

static int reserve(struct buffer *b, size_t more)
{
    if (more > (size_t)-1 - b->len)
        return -1;
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more) {
        if (cap > (size_t)-1 / 2)
            return -1;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

static int append(struct buffer *b, const void *data, size_t len)
{
    if (reserve(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

/* All of fd until EOF (0), or -1 on a read error. */
static int read_all(int fd, struct buffer *b)
{
    for (;;) {
        if (reserve(b, 65536) < 0)
            return -1;
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len);
        if (n > 0)
            b->len += (size_t)n;
        else if (n == 0)
            return 0;
        else if (errno != EINTR)
            return -1;
    }
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* memmem, which C99 lacks: the first `needle` in `hay` at or after `from`, or NULL. */
static const char *find(const char *hay, size_t len, size_t from, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = from; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

/* bytes.lstrip(): ASCII whitespace. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* bytes.decode() succeeds: strict UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned long cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

/*
 * ipam_cni.forward.agent_socket(stdin, IPAM_CNI_DEFAULT_SOCKET), rule for rule: 1 with the socket path in
 * *path / *path_len (pointing into stdin, or at IPAM_CNI_DEFAULT_SOCKET), 0 when the config is not the
 * plain case.
 */
static int agent_socket(const char *in, size_t len, const char **path, size_t *path_len)
{
    static const char key[] = "\"agent_socket\"";
    if (find(in, len, 0, "\"server\"") != NULL)
        return 0;
    const char *at = find(in, len, 0, key);
    if (at == NULL) {
        *path = IPAM_CNI_DEFAULT_SOCKET;
        *path_len = strlen(IPAM_CNI_DEFAULT_SOCKET);
        return 1;
    }
    size_t offset = (size_t)(at - in);
    if (find(in, len, offset + 1, key) != NULL)
        return 0;
    const char *rest = at + strlen(key), *end = in + len;
    while (rest < end && is_space(*rest))
        rest++;
    if (rest == end || *rest != ':')
        return 0;
    rest++;
    while (rest < end && is_space(*rest))
        rest++;
    if (rest == end || *rest != '"')
        return 0;
    const char *value = rest + 1, *quote = value;
    while (quote < end && *quote != '"')
        quote++;
    if (quote == end || quote == value)
        return 0;
    size_t n = (size_t)(quote - value);
    if (memchr(value, '\\', n) != NULL || memchr(value, '\n', n) != NULL)
        return 0;
    if (!valid_utf8((const unsigned char *)value, n))
        return 0;
    *path = value;
    *path_len = n;
    return 1;
}

static int is_forwarded(const char *command)
{
    static const char *const forwarded[] = {"ADD", "DEL", "CHECK", "GC", "STATUS"};
    if (command == NULL)
        return 0;
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        if (strcmp(command, forwarded[i]) == 0)
            return 1;
    return 0;
}

/* The NUL-separated CNI_* pairs of environ as posix.environ holds them: entries without `=`
 * skipped, the first of a repeated name kept, in environ order. */
static int cni_environment(struct buffer *env)
{
    int first = 1;
    for (char **e = environ; *e != NULL; e++) {
        const char *equals = strchr(*e, '=');
        if (equals == NULL || strncmp(*e, "CNI_", 4) != 0)
            continue;
        size_t name_len = (size_t)(equals - *e) + 1; /* with `=` */
        int repeated = 0;
        for (char **earlier = environ; earlier != e && !repeated; earlier++)
            repeated = strncmp(*earlier, *e, name_len) == 0;
        if (repeated)
            continue;
        if ((!first && append(env, "", 1) < 0) || append(env, *e, strlen(*e)) < 0)
            return -1;
        first = 0;
    }
    return 0;
}

/* ipam_cni.forward.frame(). */
static int build_frame(struct buffer *frame, const char *path, size_t path_len, const struct buffer *in)
{
    struct buffer env = {0};
    char sizes[64];
    int ok = cni_environment(&env) == 0;
    if (ok) {
        int n = snprintf(sizes, sizeof sizes, "%zu %zu\n", env.len, in->len);
        ok = n > 0 && (size_t)n < sizeof sizes && append(frame, MAGIC, strlen(MAGIC)) == 0 &&
             append(frame, path, path_len) == 0 && append(frame, "\n", 1) == 0 &&
             append(frame, sizes, (size_t)n) == 0 && append(frame, env.data, env.len) == 0 &&
             append(frame, in->data, in->len) == 0;
    }
    free(env.data);
    return ok ? 0 : -1;
}

/* ipam_cni.forward.exchange() up to the answer's bytes: 0 with the whole answer, -1 on any
 * failure (the Python side raises OSError). Connects as CPython's AF_UNIX sockets do (a path
 * starting with NUL is Linux's abstract namespace). */
static int exchange(const char *path, size_t path_len, const struct buffer *frame, struct buffer *answer)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t addr_len = path[0] == '\0' ? path_len : path_len + 1;
    if (addr_len > sizeof addr.sun_path)
        return -1;
    memcpy(addr.sun_path, path, path_len);

    /* Non-blocking while connecting, as CPython's socket with a timeout: an agent whose listen
     * backlog is full refuses at once (EAGAIN) and the Python launcher runs the plugin, which
     * reports it, instead of this process blocking in connect() for the whole timeout. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct timeval timeout = {AGENT_TIMEOUT_SECONDS, 0};
    int result = -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) < 0)
        goto done;
    while (connect(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + addr_len)) < 0)
        if (errno != EINTR)
            goto done; /* EAGAIN included: Linux never answers EINPROGRESS for AF_UNIX */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        goto done;
    for (size_t sent = 0; sent < frame->len;) {
        ssize_t n = send(fd, frame->data + sent, frame->len - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto done;
        }
        sent += (size_t)n;
    }
    if (read_all(fd, answer) < 0)
        goto done;
    result = 0;
done:
    close(fd);
    return result;
}

/* int(head) as Python reads it (surrounding whitespace, a sign, digits with single `_` between
 * them), as the exit status sys.exit() gives for it (a C long truncated, -1 beyond); -1 when it
 * is not an integer. */
static int parse_status(const char *head, size_t len)
{
    const char *p = head, *end = head + len;
    while (p < end && is_space(*p))
        p++;
    while (end > p && is_space(end[-1]))
        end--;
    int negative = 0;
    if (p < end && (*p == '+' || *p == '-'))
        negative = *p++ == '-';
    if (p == end || *p < '0' || *p > '9')
        return -1;
    const unsigned long long limit = 1ULL << 63; /* LONG_MAX + 1 */
    unsigned long long value = 0;
    int overflow = 0;
    for (; p < end; p++) {
        if (*p == '_' && p + 1 < end && p[1] >= '0' && p[1] <= '9')
            continue; /* p[-1] is a digit: the first character is one, and `_` never follows `_` */
        if (*p < '0' || *p > '9')
            return -1;
        if (value > limit / 10)
            overflow = 1;
        else
            value = value * 10 + (unsigned long long)(*p - '0');
    }
    if (overflow || value > limit || (value == limit && !negative))
        return 255;
    return (int)((negative ? 0 - value : value) & 0xff);
}

/* A JSON string as Python's json.dumps writes it (ASCII only; undecodable bytes as the
 * surrogates `surrogateescape` gives them). */
static void json_string(struct buffer *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    char escape[32];
    append(out, "\"", 1);
    while (*p) {
        unsigned long cp = *p;
        size_t n = 1;
        if (cp >= 0x80) {
            size_t more = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : 1;
            size_t have = 0;
            while (have < more && p[have + 1] != '\0')
                have++;
            if (have == more && valid_utf8(p, more + 1)) {
                cp = more == 1 ? cp & 0x1f : more == 2 ? cp & 0x0f : cp & 0x07;
                for (size_t k = 1; k <= more; k++)
                    cp = (cp << 6) | (p[k] & 0x3f);
                n = more + 1;
            } else {
                cp = 0xdc00 + cp;
            }
        }
        p += n;
        if (cp == '"' || cp == '\\') {
            escape[0] = '\\';
            escape[1] = (char)cp;
            append(out, escape, 2);
        } else if (cp == '\n') {
            append(out, "\\n", 2);
        } else if (cp == '\r') {
            append(out, "\\r", 2);
        } else if (cp == '\t') {
            append(out, "\\t", 2);
        } else if (cp == '\b') {
            append(out, "\\b", 2);
        } else if (cp == '\f') {
            append(out, "\\f", 2);
        } else if (cp < 0x20 || cp >= 0x7f) {
            if (cp >= 0x10000) {
                unsigned long v = cp - 0x10000;
                snprintf(escape, sizeof escape, "\\u%04lx\\u%04lx", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
            } else {
                snprintf(escape, sizeof escape, "\\u%04lx", cp);
            }
            append(out, escape, strlen(escape));
        } else {
            escape[0] = (char)cp;
            append(out, escape, 1);
        }
    }
    append(out, "\"", 1);
}

/* The CNI error the Python plugin prints for an internal error (ipam_cni.plugin.internal_error,
 * rendered by json.dumps), and exit status 1. */
static void fail(const char *what, const char *python_launcher, int err)
{
    static const char head[] = "{\"cniVersion\": \"" LATEST_VERSION "\", \"code\": 999, \"msg\": ";
    char msg[8192];
    snprintf(msg, sizeof msg, "ipam-cni internal error: %s %s: %s (run `ipam-cni install` again)", what,
             python_launcher, strerror(err));
    struct buffer out = {0};
    append(&out, head, strlen(head));
    json_string(&out, msg);
    append(&out, "}\n", 2);
    if (out.data != NULL)
        write_all(1, out.data, out.len);
    _exit(1);
}

/* Stdin for the Python launcher: the bytes read, in a memfd (or an unlinked temporary file),
 * at offset 0 on fd 0. */
static int replay_stdin(const struct buffer *in)
{
    int fd = -1;
#if defined(SYS_memfd_create) && !defined(IPAM_CNI_NO_MEMFD) /* the latter for tests only */
    fd = (int)syscall(SYS_memfd_create, "ipam-cni-stdin", 1U /* MFD_CLOEXEC */);
#endif
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        char name[4096];
        if (dir == NULL || *dir == '\0')
            dir = "/tmp";
        if ((size_t)snprintf(name, sizeof name, "%s/.ipam-cni-stdin.XXXXXX", dir) >= sizeof name)
            return -1;
        fd = mkstemp(name);
        if (fd < 0)
            return -1;
        unlink(name);
    }
    if (write_all(fd, in->data, in->len) < 0 || lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) < 0) {
        close(fd);
        return -1;
    }
    if (fd != 0)
        close(fd);
    return 0;
}

/* The Python launcher's path: compiled in, else `.<name>-python` beside this executable. */
static const char *python_launcher(void)
{
#ifdef IPAM_CNI_PYTHON_LAUNCHER
    return IPAM_CNI_PYTHON_LAUNCHER;
#else
    static char path[4096 + 16];
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return ".ipam-cni-python";
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return ".ipam-cni-python";
    *slash = '\0';
    snprintf(path, sizeof path, "%s/.%s-python", self, slash + 1);
    return path;
#endif
}

/* Run the invocation in the Python launcher: the same environment, stdin replayed when it was
 * read. Never returns. */
static void run_python(const struct buffer *in, int have_stdin)
{
    const char *path = python_launcher();
    if (have_stdin && replay_stdin(in) < 0)
        fail("cannot replay stdin to the Python launcher", path, errno);
    char *argv[] = {(char *)path, (char *)NO_FORWARD_FLAG, NULL};
    execv(path, argv);
    fail("cannot execute the Python launcher", path, errno);
}

int main(void)
{
    struct buffer in = {0}, frame = {0}, answer = {0};
    if (read_all(0, &in) < 0)
        run_python(&in, 0);
    const char *path;
    size_t path_len;
    if (!is_forwarded(getenv("CNI_COMMAND")) || !agent_socket(in.data ? in.data : "", in.len, &path, &path_len))
        run_python(&in, 1);
    if (build_frame(&frame, path, path_len, &in) < 0 || exchange(path, path_len, &frame, &answer) < 0)
        run_python(&in, 1);
    free(frame.data);
    const char *newline = answer.len ? memchr(answer.data, '\n', answer.len) : NULL;
    if (newline == NULL)
        run_python(&in, 1);
    if (answer.len >= strlen(FALLBACK) && memcmp(answer.data, FALLBACK, strlen(FALLBACK)) == 0)
        run_python(&in, 1);
    int status = parse_status(answer.data, (size_t)(newline - answer.data));
    if (status < 0)
        run_python(&in, 1);
    signal(SIGPIPE, SIG_IGN); /* as in Python: a closed stdout is an error, not a signal */
    size_t head = (size_t)(newline - answer.data) + 1;
    if (write_all(1, answer.data + head, answer.len - head) < 0)
        return 1;
    return status;
}
