#include "loadgen/remote_tokenizer.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace troupe::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int32_t kMaxVocab = 1 << 24;

void model_key(json_writer& w, const std::string& model) {
  if (model.empty()) return;
  w.Key("model");
  w.String(model.c_str(), static_cast<rapidjson::SizeType>(model.size()));
}

std::string detokenize_body(const std::string& model, std::span<const int32_t> ids) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  model_key(w, model);
  w.Key("tokens");
  w.StartArray();
  for (int32_t id : ids)
    w.Int(id);
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

std::string tokenize_body(const std::string& model, std::string_view text, bool add_special) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  model_key(w, model);
  w.Key("prompt");
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  w.Key("add_special_tokens");
  w.Bool(add_special);
  w.EndObject();
  return buffer.GetString();
}

std::string short_body(const std::string& body) {
  return body.size() > 200 ? body.substr(0, 200) + "..." : body;
}

}  // namespace

remote_tokenizer::remote_tokenizer(http_endpoint server, std::string path_prefix, std::string model)
    : server_(std::move(server)), prefix_(std::move(path_prefix)), model_(std::move(model)) {}

result<std::shared_ptr<remote_tokenizer>> remote_tokenizer::connect(const http_endpoint& server,
                                                                    std::string path_prefix,
                                                                    std::string model) {
  std::shared_ptr<remote_tokenizer> tok(
      new remote_tokenizer(server, std::move(path_prefix), std::move(model)));
  auto vocab = tok->find_vocab_size();
  if (!vocab) return vocab.err();
  tok->vocab_size_ = *vocab;
  return tok;
}

result<remote_tokenizer::response> remote_tokenizer::post(const std::string& path,
                                                          const std::string& json) const {
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  beast::error_code ec;
  auto resolved = resolver.resolve(server_.host, server_.port, ec);
  if (!ec) asio::connect(socket, resolved, ec);
  if (ec)
    return error{"cannot connect to " + server_.host + ":" + server_.port + ": " + ec.message()};
  if (!server_.tls) return exchange(socket, path, json);
  // https: as http_stream_client (SNI, OpenSSL's default CA paths, host-name check).
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.set_default_verify_paths(ec);
  context.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<tcp::socket&> tls(socket, context);
  SSL_set_tlsext_host_name(tls.native_handle(), server_.host.c_str());
  tls.set_verify_callback(asio::ssl::host_name_verification(server_.host));
  tls.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return error{"TLS handshake with " + server_.host + ": " + ec.message()};
  return exchange(tls, path, json);
}

template <class Stream>
result<remote_tokenizer::response> remote_tokenizer::exchange(Stream& stream,
                                                              const std::string& path,
                                                              const std::string& json) const {
  beast::error_code ec;
  http::request<http::string_body> request{http::verb::post, prefix_ + path, 11};
  request.set(http::field::host, server_.host + ":" + server_.port);
  request.set(http::field::content_type, "application/json");
  request.set(http::field::user_agent, "troupe-bench");
  request.set(http::field::connection, "close");
  for (const auto& [k, v] : server_.headers)
    request.set(k, v);
  request.body() = json;
  request.prepare_payload();
  http::write(stream, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> answer;
  if (!ec) http::read(stream, buffer, answer, ec);
  if (ec) return error{"POST " + prefix_ + path + ": " + ec.message()};
  return response{static_cast<int>(answer.result_int()), std::move(answer.body())};
}

result<bool> remote_tokenizer::accepts_id(int32_t id) const {
  const int32_t ids[] = {id};
  auto r = post("/detokenize", detokenize_body(model_, ids));
  if (!r) return r.err();
  if (r->status == 200) return true;
  if (r->status == 400) return false;
  return error{"POST " + prefix_ + "/detokenize answered " + std::to_string(r->status) + ": " +
               short_body(r->body)};
}

// Smallest id /detokenize rejects: grow an upper bound by doubling, then bisect.
result<int32_t> remote_tokenizer::find_vocab_size() const {
  auto zero = accepts_id(0);
  if (!zero) return zero.err();
  if (!*zero) return error{"the server's /detokenize rejects token id 0"};
  int32_t good = 0, bad = 1024;
  while (true) {
    auto ok = accepts_id(bad - 1);
    if (!ok) return ok.err();
    if (!*ok) break;
    good = bad - 1;
    if (bad >= kMaxVocab) return error{"the server's /detokenize accepts every token id"};
    bad *= 2;
  }
  --bad;  // bad: an id known to be rejected; good: one known to be accepted
  while (bad - good > 1) {
    const int32_t mid = good + (bad - good) / 2;
    auto ok = accepts_id(mid);
    if (!ok) return ok.err();
    (*ok ? good : bad) = mid;
  }
  return bad;
}

void remote_tokenizer::note_error(const std::string& message) const {
  std::lock_guard lock(mutex_);
  if (!first_error_) first_error_ = message;
}

std::optional<std::string> remote_tokenizer::first_error() const {
  std::lock_guard lock(mutex_);
  return first_error_;
}

std::vector<int32_t> remote_tokenizer::encode(std::string_view text, bool add_special) const {
  auto r = post("/tokenize", tokenize_body(model_, text, add_special));
  rapidjson::Document doc;
  if (r && r->status == 200) doc.Parse(r->body.c_str(), r->body.size());
  if (!r || r->status != 200 || doc.HasParseError() || !doc.IsObject() ||
      !doc.HasMember("tokens") || !doc["tokens"].IsArray()) {
    note_error(!r ? r.message()
                  : "POST " + prefix_ + "/tokenize answered " + std::to_string(r->status) + ": " +
                        short_body(r->body));
    return {};
  }
  std::vector<int32_t> ids;
  for (const auto& v : doc["tokens"].GetArray()) {
    if (v.IsInt()) ids.push_back(v.GetInt());
  }
  return ids;
}

std::string remote_tokenizer::decode(std::span<const int32_t> ids, bool) const {
  if (ids.empty()) return "";
  auto r = post("/detokenize", detokenize_body(model_, ids));
  rapidjson::Document doc;
  if (r && r->status == 200) doc.Parse(r->body.c_str(), r->body.size());
  if (!r || r->status != 200 || doc.HasParseError() || !doc.IsObject() ||
      !doc.HasMember("prompt") || !doc["prompt"].IsString()) {
    note_error(!r ? r.message()
                  : "POST " + prefix_ + "/detokenize answered " + std::to_string(r->status) + ": " +
                        short_body(r->body));
    return "";
  }
  return std::string(doc["prompt"].GetString(), doc["prompt"].GetStringLength());
}

std::string remote_tokenizer::token_bytes(int32_t id) const {
  const int32_t ids[] = {id};
  return decode(ids, false);
}

}  // namespace troupe::loadgen
