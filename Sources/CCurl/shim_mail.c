#include "CCurlMail.h"

CURLcode ccurl_setopt_debug_function(CURL *handle, ccurl_debug_callback function) {
    return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, function);
}

CURLcode ccurl_setopt_mail_rcpt_allowfails(CURL *handle, long enabled) {
    return curl_easy_setopt(handle, (CURLoption)(CURLOPTTYPE_LONG + 290), enabled);
}
