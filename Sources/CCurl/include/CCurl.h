// Fixed-arity wrappers around libcurl's variadic functions (curl_easy_setopt, curl_easy_getinfo), which Swift
// cannot call. Only CRMTransport imports this module.
#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>
// CCurl.h is the module's umbrella header (it is named after the target), so topic headers are included here.
#include "CCurlMail.h"

CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, const void *value);
CURLcode ccurl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_setopt_write_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ccurl_setopt_read_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ccurl_setopt_header_function(CURL *handle, size_t (*function)(char *, size_t, size_t, void *));
CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value);

#endif
