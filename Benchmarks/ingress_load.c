/*
 * Open-loop HTTP load for the ingress benchmark: POSTs a body at a fixed mean rate with exponentially distributed
 * gaps between requests (Poisson arrivals, as independent visitors of a web form make them), over libcurl's multi
 * interface on one thread.
 *
 * Each request's latency is measured from the moment it was scheduled, not from the moment a connection was free:
 * when the server falls behind, the waiting shows in the figures instead of slowing the generator down (no
 * coordinated omission). Requests beyond MAX_IN_FLIGHT wait in a queue and count from their scheduled time too.
 *
 * hey, by contrast, starts its workers' rate tickers together, so "-c 50 -q 20" sends bursts of 50 requests every
 * 50 ms; the benchmark reports both.
 *
 * Usage: ingress_load URL RATE SECONDS BODY_FILE [MAX_IN_FLIGHT=64] [SEED=1]
 * Prints one line: "sent=N completed=N achieved=R p50=Xms p90=Xms p99=Xms max=Xms codes=202:N,... errors=N
 * connections=N" (connections: how many the requests opened; kept-alive connections are reused)
 * and exits 1 if a request got no HTTP answer at all.
 */
#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t discard(char *data, size_t size, size_t count, void *user) {
    (void)data; (void)user;
    return size * count;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value at quantile q of the sorted latencies (nearest rank). */
static double quantile(const double *sorted, long count, double q) {
    if (count == 0) return 0;
    long rank = (long)ceil(q * count);
    if (rank < 1) rank = 1;
    return sorted[rank - 1];
}

/* A uniform number in (0, 1) from a xorshift64* generator (reproducible for a given seed). */
static double uniform(unsigned long long *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    unsigned long long bits = (*state * 2685821657736338717ULL) >> 11;
    return (bits + 0.5) / 9007199254740992.0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s URL RATE SECONDS BODY_FILE [MAX_IN_FLIGHT] [SEED]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    double rate = atof(argv[2]), seconds = atof(argv[3]);
    int max_in_flight = argc > 5 ? atoi(argv[5]) : 64;
    unsigned long long seed = argc > 6 ? strtoull(argv[6], NULL, 10) : 1;
    if (rate <= 0 || seconds <= 0 || max_in_flight < 1 || seed == 0) {
        fprintf(stderr, "RATE and SECONDS must be positive, MAX_IN_FLIGHT at least 1, SEED not 0\n");
        return 2;
    }
    FILE *file = fopen(argv[4], "rb");
    if (!file) { perror(argv[4]); return 2; }
    static char body[65536];
    size_t body_length = fread(body, 1, sizeof body, file);
    fclose(file);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_in_flight);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)max_in_flight); /* keep every connection for reuse */
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");

    /* Every scheduled request: its time, then its latency once answered. */
    long capacity = (long)(rate * seconds * 1.5) + 1024;
    double *scheduled = malloc(sizeof(double) * capacity);
    double *latencies = malloc(sizeof(double) * capacity);
    CURL **idle = malloc(sizeof(CURL *) * max_in_flight);
    int idle_count = 0;
    for (int index = 0; index < max_in_flight; index++) {
        CURL *easy = curl_easy_init();
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)body_length);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 30000L);
        idle[idle_count++] = easy;
    }

    long codes[600] = {0};
    long sent = 0, started = 0, completed = 0, errors = 0, connections = 0;
    int running = 0;
    double start = now_seconds(), end = start + seconds;
    double next = start - log(uniform(&seed)) / rate;
    for (;;) {
        double now = now_seconds();
        while (next <= now && next < end && sent < capacity) {
            scheduled[sent++] = next;
            next -= log(uniform(&seed)) / rate;
        }
        /* Start what was scheduled, oldest first, while connections are free. */
        while (started < sent && idle_count > 0) {
            CURL *easy = idle[--idle_count];
            curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)(intptr_t)started);
            curl_multi_add_handle(multi, easy);
            started++;
        }
        curl_multi_perform(multi, &running);
        CURLMsg *message;
        int left;
        while ((message = curl_multi_info_read(multi, &left))) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL *easy = message->easy_handle;
            void *private_data;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, &private_data);
            long index = (long)(intptr_t)private_data, code = 0, connects = 0;
            curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
            connections += connects;
            if (message->data.result == CURLE_OK) {
                curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
                if (code >= 0 && code < 600) codes[code]++;
            } else {
                errors++;
            }
            latencies[completed++] = now_seconds() - scheduled[index];
            curl_multi_remove_handle(multi, easy);
            idle[idle_count++] = easy;
        }
        now = now_seconds();
        if (now >= end && completed == sent) break;
        if (now >= end + 30) break; /* the server stopped answering: report what came back */
        /* Sleep until the next arrival or socket activity; the last sub-millisecond in nanosleep. */
        double wait = (next < end ? next : end) - now;
        if (started < sent && idle_count == 0) wait = 0.001;
        if (wait >= 0.001 || (now >= end)) {
            int milliseconds = now >= end ? 10 : (int)(wait * 1000);
            curl_multi_poll(multi, NULL, 0, milliseconds, NULL);
        } else if (wait > 0) {
            struct timespec pause = {0, (long)(wait * 1e9)};
            nanosleep(&pause, NULL);
        }
    }

    qsort(latencies, completed, sizeof(double), compare_doubles);
    printf("sent=%ld completed=%ld achieved=%.0f p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms codes=", sent, completed,
           completed / seconds, quantile(latencies, completed, 0.50) * 1000,
           quantile(latencies, completed, 0.90) * 1000, quantile(latencies, completed, 0.99) * 1000,
           completed ? latencies[completed - 1] * 1000 : 0);
    const char *separator = "";
    for (int code = 0; code < 600; code++) {
        if (codes[code]) { printf("%s%d:%ld", separator, code, codes[code]); separator = ","; }
    }
    printf(" errors=%ld connections=%ld\n", errors + (sent - completed), connections);
    return errors + (sent - completed) > 0 ? 1 : 0;
}
