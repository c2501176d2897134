#pragma once
/**
 * @file signing_key.h
 * The signing keys, as signer sees them. The key interface and its sources
 * (PEM, PKCS#12, PKCS#11) live in certstore (hanko/certstore/key_source.h);
 * this header re-exports them into hanko::signer so that signer's callers
 * keep their names.
 */
#include "hanko/certstore/key_source.h"

namespace hanko::signer {

using certstore::ecdsa_der_to_raw;
using certstore::ecdsa_raw_to_der;
using certstore::jws_alg_from_name;
using certstore::jws_alg_name;
using certstore::JwsAlg;
using certstore::PemSigningKey;
using certstore::Pkcs11Config;
using certstore::Pkcs11SigningKey;
using certstore::Pkcs12SigningKey;
using certstore::Secret;
using certstore::SigningKey;

}  // namespace hanko::signer
