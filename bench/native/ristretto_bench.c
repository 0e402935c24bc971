/*
 * Native floor for the contact-psi benchmark: what one ristretto255 hash-to-group and one
 * scalar multiplication cost in libsodium compiled natively (no WASM), the same work the
 * TypeScript backends do per element:
 *   xmd        RFC 9380 expand_message_xmd(SHA-512) to 64 bytes (3 SHA-512 calls)
 *   from_hash  crypto_core_ristretto255_from_hash (RFC 9496 one-way map)
 *   scalarmult crypto_scalarmult_ristretto255 (variable base, constant time)
 *   hash+mult  xmd + from_hash + scalarmult: one server-side F(k, x) without the final hash
 * Usage: ristretto_bench [iterations]. Prints one line per figure, "name ns_per_op".
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char DST[] = "HashToGroup-OPRFV1-\x00-ristretto255-SHA512";
#define DST_LEN (sizeof(DST) - 1)

/* RFC 9380 §5.3.1 expand_message_xmd with SHA-512, len_in_bytes = 64 (ell = 1). */
static void expand_xmd_64(unsigned char out[64], const unsigned char *msg, size_t msg_len) {
  unsigned char b0[64], b1[64];
  unsigned char dst_prime[DST_LEN + 1];
  memcpy(dst_prime, DST, DST_LEN);
  dst_prime[DST_LEN] = (unsigned char)DST_LEN;
  static const unsigned char z_pad[128] = {0};
  const unsigned char l_i_b[3] = {0, 64, 0};
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, z_pad, sizeof z_pad);
  crypto_hash_sha512_update(&st, msg, msg_len);
  crypto_hash_sha512_update(&st, l_i_b, sizeof l_i_b);
  crypto_hash_sha512_update(&st, dst_prime, sizeof dst_prime);
  crypto_hash_sha512_final(&st, b0);
  const unsigned char one = 1;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, b0, sizeof b0);
  crypto_hash_sha512_update(&st, &one, 1);
  crypto_hash_sha512_update(&st, dst_prime, sizeof dst_prime);
  crypto_hash_sha512_final(&st, b1);
  memcpy(out, b1, 64);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  if (n < 10) n = 10;
  if (sodium_init() < 0) {
    fprintf(stderr, "sodium_init failed\n");
    return 1;
  }
  unsigned char msg[32], uniform[64], point[32], out[32], scalar[32];
  volatile unsigned sink = 0;
  crypto_core_ristretto255_scalar_random(scalar);
  memcpy(msg, "tel:+41791234567................", 32);
  double t;

  t = now_ns();
  for (long i = 0; i < n; i++) {
    msg[0] = (unsigned char)i;
    expand_xmd_64(uniform, msg, sizeof msg);
    sink += uniform[0];
  }
  printf("xmd %.1f\n", (now_ns() - t) / n);

  t = now_ns();
  for (long i = 0; i < n; i++) {
    uniform[0] = (unsigned char)i;
    crypto_core_ristretto255_from_hash(point, uniform);
    sink += point[0];
  }
  printf("from_hash %.1f\n", (now_ns() - t) / n);

  t = now_ns();
  for (long i = 0; i < n; i++) {
    if (crypto_scalarmult_ristretto255(out, scalar, point) != 0) return 2;
    memcpy(point, out, 32);
    sink += out[0];
  }
  printf("scalarmult %.1f\n", (now_ns() - t) / n);

  t = now_ns();
  for (long i = 0; i < n; i++) {
    msg[1] = (unsigned char)i;
    msg[2] = (unsigned char)(i >> 8);
    expand_xmd_64(uniform, msg, sizeof msg);
    crypto_core_ristretto255_from_hash(point, uniform);
    if (crypto_scalarmult_ristretto255(out, scalar, point) != 0) return 2;
    sink += out[0];
  }
  printf("hash+mult %.1f\n", (now_ns() - t) / n);
  printf("sodium_version %s\n", sodium_version_string());
  return sink == 0xffffffffu ? 3 : 0;
}
