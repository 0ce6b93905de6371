// Fixed-arity wrappers for the mail transports (SMTP, IMAP): libcurl's debug callback, which carries the protocol
// transcript (the only place libcurl exposes each RCPT TO reply).
#ifndef CCURL_MAIL_H
#define CCURL_MAIL_H

#include <curl/curl.h>

typedef int (*ccurl_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *context);

CURLcode ccurl_setopt_debug_function(CURL *handle, ccurl_debug_callback function);

/// CURLOPT_MAIL_RCPT_ALLOWFAILS (option 290; spelled CURLOPT_MAIL_RCPT_ALLLOWFAILS in libcurl 7.69-8.1 headers).
CURLcode ccurl_setopt_mail_rcpt_allowfails(CURL *handle, long enabled);

#endif
