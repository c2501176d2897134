#pragma once
/**
 * @file augment_internal.h
 * Shared parts of augment_jades.cpp and augment_xades.cpp: collecting the
 * validation data (certificates and revocation data) of a chain at `now`, and
 * replacing Bundle.signature.data in a Bundle text. Private to signer/.
 */
#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/error.h"
#include "hanko/signer/augment.h"

namespace hanko::signer::detail {

/** Certificates and revocation data to embed (DER), without duplicates. */
struct Collected {
  std::vector<Bytes> certificates;
  std::vector<Bytes> crls;
  std::vector<Bytes> ocsp_responses;
  std::vector<std::string> notes;
  bool has_revocation() const { return !crls.empty() || !ocsp_responses.empty(); }
  bool empty() const { return certificates.empty() && !has_revocation(); }
};

/**
 * Collects, at ctx.now, the validation data of chains: every certificate of
 * the validated chain (leaf to anchor) that is not already in the signature,
 * and for every certificate below the anchor the OCSP response or CRL that
 * says it is not revoked (RevocationChecker::check at ctx.now; its `der`).
 * Any failure is an error: a chain that does not validate at `now`
 * (Errc::policy), a revoked certificate (Errc::policy), no obtainable data
 * (Errc::network), data that failed its checks or an "unknown" answer
 * (Errc::remote_rejected).
 */
class Collector {
 public:
  /**
   * @param ctx signature_trust and revocation must be set (Errc::invalid_argument otherwise, from the add_* calls)
   * @param present DER certificates already in the signature (x5c / KeyInfo, earlier values): not added again
   */
  Collector(const ExtendContext& ctx, std::vector<Bytes> present);

  /** The signer's chain (Purpose::signature, with AIA fetching when configured). */
  Result<void> add_signer_chain(const X509* leaf, const std::vector<const X509*>& untrusted);
  /** The TSA chain of a timestamp token (Purpose::timestamping); `what` names the token in messages. */
  Result<void> add_tsa_chain(ByteView token_der, const std::string& what);

  Collected& result() { return m_out; }

 private:
  Result<void> add_chain(const std::vector<const X509*>& chain, const std::string& what);
  void add_certificate(const X509* cert);

  const ExtendContext& m_ctx;
  std::vector<Bytes> m_present;
  Collected m_out;
};

/**
 * Checks a token just received for `data` with the TSA trust of `ctx` at
 * ctx.now (tsa_trust, else signature_trust; no check when neither is set):
 * a timestamp that hanko itself could not validate is not added. Errc::policy
 * when the TSA certificate does not chain to the anchors (an untrusted or
 * expired TSA), Errc::remote_rejected for any other defect.
 */
Result<void> check_new_token(const ExtendContext& ctx, ByteView token, std::string_view data, std::string_view what);

/** TSTInfo.genTime of a token (nullopt if it does not parse). */
std::optional<TimePoint> token_time(ByteView token_der);

/**
 * Replaces the value `old_value` by `new_value` in `text` when it occurs
 * exactly once (byte-preserving update of Bundle.signature.data); false when
 * it does not (the caller then re-serializes).
 */
bool replace_once(std::string& text, std::string_view old_value, std::string_view new_value);

/** Whether the level `have` already satisfies `target` (raising only; B-LTA is always renewed). */
bool satisfies(SignatureLevel have, ExtendLevel target);

/** Random lower-case hex for element Ids (8 bytes, 16 digits). */
std::string random_hex();

}  // namespace hanko::signer::detail
