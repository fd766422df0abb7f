//! The 国密 primitives the kiosk and the platforms use, checked against the
//! standards' examples and published vectors — RustCrypto's `sm2`, `sm3`,
//! `sm4`, exactly as the `gm` suite calls them.
//!
//! - SM3: GB/T 32905-2016 Appendix A (examples 1 and 2).
//! - SM4: GB/T 32907-2016 Appendix A (example 1, and 1,000,000 rounds).
//! - SM4-GCM: RFC 8998 Appendix A.1.
//! - SM2: the default user id `1234567812345678` in Z (GB/T 32918.2-2016
//!   §5.5, curve parameters of GB/T 32918.5-2017 recomputed here), a
//!   published signature verified under a fixed public key, round trips;
//!   public-key encryption of GB/T 32918.4 (C1C3C2) opening a ciphertext
//!   produced elsewhere.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use bianmin_platform::seal::Suite;
use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm3::Digest;
use sm4::cipher::BlockCipherEncrypt;

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text.replace([' ', '\n'], "")).unwrap()
}

#[test]
fn sm3_standard_examples() {
    assert_eq!(
        hex::encode(Suite::Gm.hash(b"abc")),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
    assert_eq!(
        hex::encode(Suite::Gm.hash("abcd".repeat(16).as_bytes())),
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    );
    // The request-signing body hash of the gm suite is this SM3.
    assert_eq!(
        bianmin_platform::sign::body_hash_in(Suite::Gm, b"abc"),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
}

#[test]
fn sm4_standard_example_once_and_a_million_times() {
    let key = unhex("0123456789abcdeffedcba9876543210");
    let cipher = sm4::Sm4::new_from_slice(&key).unwrap();
    let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(&key[..]).unwrap();
    cipher.encrypt_block(&mut block);
    assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
    for _ in 1..1_000_000 {
        cipher.encrypt_block(&mut block);
    }
    assert_eq!(hex::encode(block), "595298c7c6fd271f0402f804c33d3f66");
}

#[test]
fn sm4_gcm_rfc_8998_vector() {
    type Sm4Gcm = aes_gcm::AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;
    let cipher = Sm4Gcm::new_from_slice(&unhex("0123456789ABCDEFFEDCBA9876543210")).unwrap();
    let nonce = unhex("00001234567800000000ABCD");
    let nonce: &[u8; 12] = nonce.as_slice().try_into().unwrap();
    let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
    let plain = unhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
         EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    );
    let sealed = cipher
        .encrypt(
            nonce.into(),
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(
        hex::encode_upper(&sealed),
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735\
         D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D\
         83DE3541E4C2B58177E065A9BF7B62EC"
    );
}

/// Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) with the curve of
/// GB/T 32918.5, computed here from the standard's numbers, not the crate's.
fn z_value(id: &[u8], public_sec1: &[u8]) -> Vec<u8> {
    let a = unhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC");
    let b = unhex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
    let xg = unhex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
    let yg = unhex("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");
    let entl = ((id.len() * 8) as u16).to_be_bytes();
    let mut h = sm3::Sm3::new();
    for part in [
        &entl[..],
        id,
        &a,
        &b,
        &xg,
        &yg,
        &public_sec1[1..33],
        &public_sec1[33..65],
    ] {
        h.update(part);
    }
    h.finalize().to_vec()
}

#[test]
fn sm2_signatures_use_the_default_user_id_in_z() {
    const DEFAULT_ID: &str = "1234567812345678";
    let secret = unhex("3DDD2A3679BF6F1DFC3B49D3E99114718E48EC170EB4E4D3A82052DAB19E8B50");
    let signer = SigningKey::from_slice(DEFAULT_ID, &secret).unwrap();
    let message = b"message digest";
    let signature: Signature = signer.sign(message);
    let verifier = signer.verifying_key();
    assert!(verifier.verify(message, &signature).is_ok());
    assert!(verifier.verify(b"message digesT", &signature).is_err());
    // e = SM3(Z_A ‖ M) with Z_A over the default id, computed independently:
    // the crate's signature verifies against exactly that digest.
    let public = verifier.to_sec1_bytes();
    let mut e = sm3::Sm3::new();
    e.update(z_value(DEFAULT_ID.as_bytes(), &public));
    e.update(message);
    assert!(verifier.verify_prehash(&e.finalize(), &signature).is_ok());
    // Another user id gives another Z: the same signature does not verify.
    let other = VerifyingKey::from_sec1_bytes("ALICE123@YAHOO.COM", &public).unwrap();
    assert!(other.verify(message, &signature).is_err());
}

#[test]
fn sm2_a_published_signature_verifies_under_its_fixed_public_key() {
    // Made with OpenSSL (`pkeyutl -sign -digest sm3 -pkeyopt
    // distid:example@rustcrypto.org`), published with RustCrypto's sm2.
    let public = unhex(
        "0408D77AE04C01CC4C1104360DD8AF6B6F7DF334283D7C1A6AFD5652407B87BEE5\
         014E2A57C36C150D16324DC664E31E6432359609C4E79847A5B161C8C7364C8A",
    );
    let signature = unhex(
        "d1dcccedd9fb785e0f67c16b7c52901625c0b69de9bca2144acc7be713cad2fc\
         f7d1eae6e3a157b36c65f672f738ca8b46298bf149a6510072c431b49cd88b1c",
    );
    let signature = Signature::try_from(signature.as_slice()).unwrap();
    let key = VerifyingKey::from_sec1_bytes("example@rustcrypto.org", &public).unwrap();
    assert!(key.verify(b"testing", &signature).is_ok());
    assert!(key.verify(b"Testing", &signature).is_err());
}

#[test]
fn sm2_encryption_opens_a_ciphertext_made_elsewhere_and_round_trips() {
    let secret = unhex("3DDD2A3679BF6F1DFC3B49D3E99114718E48EC170EB4E4D3A82052DAB19E8B50");
    let key = sm2::pke::DecryptingKey::from_slice(&secret).unwrap();
    // C1 ‖ C3 ‖ C2 (GB/T 32918.4-2016 order) of "plaintext", from RustCrypto's vectors.
    let cipher = unhex(
        "041ed68db303f5bc6bce516d5a62e1cd16781d3007df6864d970a56d46a6cecca0e0d33bfc71e78c440ae6afeef1a18cce473b3e27002189a058ddadc9182c80a3f13be66476ba6ef66d95a7fb11f30de441b3b66d566e48348bd830e584e7ec37f9b704ef32eba9055c",
    );
    assert_eq!(key.decrypt(&cipher).unwrap(), b"plaintext");
    let mut tampered = cipher.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(key.decrypt(&tampered).is_err());
    let mut rng = getrandom::SysRng;
    let fresh = key
        .encrypting_key()
        .encrypt(&mut rng, b"110101199003077777")
        .unwrap();
    assert_eq!(key.decrypt(&fresh).unwrap(), b"110101199003077777");
}
