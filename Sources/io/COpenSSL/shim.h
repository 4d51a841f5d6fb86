#ifndef INFRASTACK_COPENSSL_SHIM_H
#define INFRASTACK_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/evp.h>
#include <openssl/ec.h>

/* OpenSSL spells these as macros, which Swift cannot call. */
static inline int infra_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
static inline int infra_ssl_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
static inline long infra_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline int infra_tls1_2_version(void) { return TLS1_2_VERSION; }
static inline int infra_tls1_3_version(void) { return TLS1_3_VERSION; }
static inline long infra_mode_partial_writes(void) { return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; }
static inline int infra_evp_pkey_ec(void) { return EVP_PKEY_EC; }
static inline int infra_nid_p256(void) { return NID_X9_62_prime256v1; }
#endif
