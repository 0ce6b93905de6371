// librdkafka's public headers, as Debian's librdkafka-dev 2.0.2 installs them.
// crmhub keeps to the 2.0.2 API so the binary runs on any librdkafka >= 2.0.2.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
