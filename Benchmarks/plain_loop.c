/*
 * The baseline for crmhub's route benchmark: a plain librdkafka consume -> produce loop with no hub logic.
 * Same client settings as a crmhub route (consumer group, manual commit, idempotent producer with acks=all,
 * linger 5 ms), so the comparison measures what the hub adds.
 *
 * Usage: plain_loop BOOTSTRAP FROM_TOPIC TO_TOPIC GROUP COUNT [envelope]
 *
 * With "envelope", it does the route's per-message work in C as well: each output message carries the three envelope
 * headers a crmhub route adds (crm-id "topic-partition-offset", crm-origin "topic/partition/offset", crm-route), and
 * an input offset is stored for commit only once its output is acknowledged (enable.auto.offset.store=false; each
 * pass of the loop stores the offsets acknowledged since the last one; auto-commit): the same messages and the same
 * commit-after-ack.
 * Prints one line: "plain messages=N seconds=S rate=R max_rss_kb=K cpu_seconds=C context_switches=W" (timed from the
 * first consumed message to the last ack; K is the process's peak resident set, VmHWM: getrusage's ru_maxrss would
 * include the parent's peak when the parent spawned this process with vfork; C and W are the CPU time, user and
 * system, and the context switches of all the process's threads, librdkafka's included, over the same span).
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static long delivered = 0;
static long failed = 0;

/* Envelope mode: per input partition, the next offset to commit (the highest acknowledged plus one). Delivery reports
 * of one partition arrive in order (idempotent producer), so it only grows; the main loop stores the offsets that
 * changed since its last pass. The input partition travels in the message opaque (plus one: never NULL). */
enum { MAX_PARTITIONS = 256 };
static int64_t acked[MAX_PARTITIONS];
static int changed[MAX_PARTITIONS];

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque) {
    (void)rk; (void)opaque;
    if (message->err) { failed++; return; }
    delivered++;
    if (!message->_private) return;
    int partition = (int)((intptr_t)message->_private >> 48) - 1;
    acked[partition] = ((intptr_t)message->_private & ((1LL << 48) - 1)) + 1;
    changed[partition] = 1;
}

static void store_acknowledged(rd_kafka_t *consumer, const char *topic) {
    rd_kafka_topic_partition_list_t *stored = NULL;
    for (int p = 0; p < MAX_PARTITIONS; p++) {
        if (!changed[p]) continue;
        if (!stored) stored = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(stored, topic, p)->offset = acked[p];
        changed[p] = 0;
    }
    if (!stored) return;
    rd_kafka_offsets_store(consumer, stored);
    rd_kafka_topic_partition_list_destroy(stored);
}

/* The process's CPU time (user + system, all threads) in seconds, and its context switches. */
static double cpu_seconds(long *switches) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    *switches = usage.ru_nvcsw + usage.ru_nivcsw;
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static rd_kafka_conf_t *config(const char *bootstrap) {
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, error, sizeof error);
    return conf;
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, name, value, error, sizeof error) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: %s\n", name, error);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc != 6 && !(argc == 7 && strcmp(argv[6], "envelope") == 0)) {
        fprintf(stderr, "usage: %s BOOTSTRAP FROM TO GROUP COUNT [envelope]\n", argv[0]);
        return 2;
    }
    const char *bootstrap = argv[1], *from = argv[2], *to = argv[3], *group = argv[4];
    long count = atol(argv[5]);
    int envelope = argc == 7;
    char error[512];

    rd_kafka_conf_t *pconf = config(bootstrap);
    set(pconf, "enable.idempotence", "true");
    set(pconf, "acks", "all");
    set(pconf, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, error, sizeof error);
    if (!producer) { fprintf(stderr, "producer: %s\n", error); return 1; }

    rd_kafka_conf_t *cconf = config(bootstrap);
    set(cconf, "group.id", group);
    set(cconf, "enable.auto.commit", envelope ? "true" : "false");
    if (envelope) set(cconf, "enable.auto.offset.store", "false");
    set(cconf, "auto.offset.reset", "earliest");
    set(cconf, "session.timeout.ms", "6000");
    set(cconf, "heartbeat.interval.ms", "1000");
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, error, sizeof error);
    if (!consumer) { fprintf(stderr, "consumer: %s\n", error); return 1; }
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, from, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);

    long consumed = 0;
    double start = 0, cpu_start = 0;
    long switches_start = 0, switches_end = 0;
    double give_up = now_seconds() + 600;
    while (consumed < count && now_seconds() < give_up) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 100);
        rd_kafka_poll(producer, 0);
        if (envelope) store_acknowledged(consumer, from);
        if (!message) continue;
        if (message->err) { rd_kafka_message_destroy(message); continue; }
        if (consumed == 0) {
            start = now_seconds();
            cpu_start = cpu_seconds(&switches_start);
        }
        consumed++;
        char id[320], origin[320];
        int id_len = 0, origin_len = 0;
        if (envelope) {
            if (message->partition >= MAX_PARTITIONS) { fprintf(stderr, "partition above %d\n", MAX_PARTITIONS); return 1; }
            id_len = snprintf(id, sizeof id, "%s-%d-%lld", from, (int)message->partition, (long long)message->offset);
            origin_len = snprintf(origin, sizeof origin, "%s/%d/%lld", from, (int)message->partition,
                                  (long long)message->offset);
        }
        void *position = (void *)(intptr_t)(((int64_t)(message->partition + 1) << 48) | message->offset);
        for (;;) {
            rd_kafka_resp_err_t err = envelope
                ? rd_kafka_producev(
                      producer, RD_KAFKA_V_TOPIC(to), RD_KAFKA_V_KEY(message->key, message->key_len),
                      RD_KAFKA_V_VALUE(message->payload, message->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_HEADER("crm-id", id, id_len), RD_KAFKA_V_HEADER("crm-origin", origin, origin_len),
                      RD_KAFKA_V_HEADER("crm-route", "bench", 5), RD_KAFKA_V_OPAQUE(position), RD_KAFKA_V_END)
                : rd_kafka_producev(
                      producer, RD_KAFKA_V_TOPIC(to), RD_KAFKA_V_KEY(message->key, message->key_len),
                      RD_KAFKA_V_VALUE(message->payload, message->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                      RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                if (err) failed++;
                break;
            }
            rd_kafka_poll(producer, 1);
        }
        rd_kafka_message_destroy(message);
    }
    rd_kafka_flush(producer, 60000);
    if (envelope) store_acknowledged(consumer, from);
    double seconds = now_seconds() - start;
    double cpu = cpu_seconds(&switches_end) - cpu_start;
    rd_kafka_commit(consumer, NULL, 0);
    long peak_kb = 0;
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    while (status && fgets(line, sizeof line, status))
        if (sscanf(line, "VmHWM: %ld kB", &peak_kb) == 1) break;
    if (status) fclose(status);
    printf("plain messages=%ld delivered=%ld failed=%ld seconds=%.3f rate=%.0f max_rss_kb=%ld cpu_seconds=%.3f "
           "context_switches=%ld\n", consumed, delivered, failed, seconds, delivered / seconds, peak_kb, cpu,
           switches_end - switches_start);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    return failed == 0 && delivered == count ? 0 : 1;
}
