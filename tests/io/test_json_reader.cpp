// io/json_reader: values, numbers as nlohmann reads them, whitespace, chunk
// boundaries, and the syntax errors (each names the file and the byte).
#include "instseg/io/json_reader.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <functional>

#include "common/test_util.h"
#include "instseg/core/check.h"

namespace instseg {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = test::temp_dir("json_reader") + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Walks a whole document as a generic value (what skip_value checks) and
// returns "" or the error message.
std::string walk_error(const std::string& path, size_t chunk = size_t{256} << 10) {
  try {
    JsonReader in(path, chunk);
    in.skip_value();
    in.expect_end();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The number of a one-number document.
JsonNumber number_of(const std::string& text) {
  JsonReader in(write_temp("number.json", text));
  const JsonNumber n = in.read_number();
  in.expect_end();
  return n;
}

TEST(JsonReader, Strings) {
  // Every escape, a surrogate pair, raw UTF-8 passed through, an RLE string
  // with its backslash escaped (COCO's alphabet '0'..'o' includes '\').
  const std::string path = write_temp(
      "strings.json", "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\\ud83d\\ude00\", \"\xc3\xa9\xe2\x82\xac\", "
                      "\"PQ\\\\1O\", \"\"]");
  JsonReader in(path);
  std::vector<std::string> got;
  in.begin_array();
  while (in.next_element()) {
    ASSERT_EQ(in.peek(), JsonReader::Kind::string);
    in.read_string(got.emplace_back());
  }
  in.expect_end();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(got[1], "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  EXPECT_EQ(got[2], "\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(got[3], "PQ\\1O");
  EXPECT_EQ(got[4], "");
}

TEST(JsonReader, NumbersAreNlohmannsDoubles) {
  // Exponent forms, long mantissas, halfway cases, integers past 2^53 and
  // past 64 bits, overflow and underflow: the same double as nlohmann (the
  // results reader's parser before this one).
  for (const std::string t :
       {"0", "-0", "7", "-12", "1e2", "1E+2", "-2.5e-3", "0.1e1", "1.5E-07", "123456789012345678", "9007199254740993",
        "-9223372036854775808", "9223372036854775808", "18446744073709551615", "18446744073709551616",
        "-9223372036854775809", "0.1000000000000000055511151231257827021181583404541015625", "2.2250738585072011e-308",
        "4.9e-324", "1e-400", "-1e-400", "0.30000000000000004", "5e-324", "1.7976931348623157e308",
        "0.9876543283462524", "440.0"}) {
    const JsonNumber n = number_of(t);
    const double want = nlohmann::json::parse(t).get<double>();
    EXPECT_EQ(n.value, want) << t;
    EXPECT_EQ(std::signbit(n.value), std::signbit(want)) << t;
  }
  EXPECT_EQ(number_of("-0").type, JsonNumber::Type::integer);
  EXPECT_EQ(number_of("-12").i, -12);
  EXPECT_EQ(number_of("9223372036854775808").type, JsonNumber::Type::unsigned_integer);
  EXPECT_EQ(number_of("18446744073709551615").u, UINT64_MAX);
  EXPECT_EQ(number_of("18446744073709551616").type, JsonNumber::Type::floating);
  EXPECT_EQ(number_of("1e2").type, JsonNumber::Type::floating);
  // Beyond the largest double: an error, as nlohmann's "number overflow".
  for (const std::string t : {"1e400", "-1e400", "[1.8e308]"}) {
    EXPECT_FALSE(nlohmann::json::accept(t)) << t;
    EXPECT_NE(walk_error(write_temp("overflow.json", t)).find("number overflow"), std::string::npos) << t;
  }
}

TEST(JsonReader, WhitespaceAndNesting) {
  const std::string path = write_temp(
      "ws.json", "\xEF\xBB\xBF \t\r\n{ \"a\" :\t[ 1 ,\r\n{ } , [ ] ,true,false , null ] ,\n\"b\":{\"c\":\"d\"}\t}\r\n ");
  JsonReader in(path);
  std::string key;
  in.begin_object();
  ASSERT_TRUE(in.next_key(key));
  EXPECT_EQ(key, "a");
  in.begin_array();
  ASSERT_TRUE(in.next_element());
  EXPECT_EQ(in.read_number().i, 1);
  ASSERT_TRUE(in.next_element());
  EXPECT_EQ(in.peek(), JsonReader::Kind::object);
  in.skip_value();
  ASSERT_TRUE(in.next_element());
  in.begin_array();
  EXPECT_FALSE(in.next_element());
  ASSERT_TRUE(in.next_element());
  EXPECT_TRUE(in.read_boolean());
  ASSERT_TRUE(in.next_element());
  EXPECT_FALSE(in.read_boolean());
  ASSERT_TRUE(in.next_element());
  EXPECT_EQ(in.peek(), JsonReader::Kind::null);
  in.read_null();
  EXPECT_FALSE(in.next_element());
  ASSERT_TRUE(in.next_key(key));
  EXPECT_EQ(key, "b");
  in.skip_value();
  EXPECT_FALSE(in.next_key(key));
  in.expect_end();
  // Deep nesting is skipped without recursion.
  const std::string deep(200000, '[');
  EXPECT_EQ(walk_error(write_temp("deep.json", deep + std::string(200000, ']'))), "");
}

TEST(JsonReader, ChunkBoundariesDoNotMatter) {
  // Strings (plain, escaped, UTF-8), numbers and literals of every length
  // cut at every position by 16-byte chunks read the same as in one chunk.
  std::string doc = "[";
  for (int i = 0; i < 200; ++i) {
    if (i) doc += ", ";
    doc += "{\"counts\": \"" + std::string(static_cast<size_t>(i % 37), 'a') + "\\\\\\u00e9\xe2\x82\xac" +
           std::to_string(i) + "\", \"x\": " + std::to_string(i * 0.37) + "e-" + std::to_string(i % 5) +
           ", \"t\": true, \"n\": null}";
  }
  doc += "]";
  const std::string path = write_temp("chunks.json", doc);
  auto read_all = [&](size_t chunk) {
    JsonReader in(path, chunk);
    std::vector<std::string> strings;
    std::vector<double> numbers;
    std::string key;
    in.begin_array();
    while (in.next_element()) {
      in.begin_object();
      while (in.next_key(key)) {
        if (key == "counts")
          in.read_string(strings.emplace_back());
        else if (key == "x")
          numbers.push_back(in.read_number().value);
        else
          in.skip_value();
      }
    }
    in.expect_end();
    return std::make_pair(strings, numbers);
  };
  const auto big = read_all(size_t{1} << 20);
  ASSERT_EQ(big.first.size(), 200u);
  EXPECT_EQ(big.first[3], "aaa\\\xc3\xa9\xe2\x82\xac" "3");
  for (size_t chunk : {16, 17, 31, 64}) EXPECT_EQ(read_all(chunk), big) << chunk;
  const auto dom = nlohmann::json::parse(doc);
  for (size_t i = 0; i < 200; ++i) EXPECT_EQ(big.second[i], dom[i]["x"].get<double>()) << i;
}

TEST(JsonReader, AcceptsWhatNlohmannAccepts) {
  // The same strictness as nlohmann's parser (strict mode, no comments).
  const std::vector<std::string> docs = {
      "[]", "{}", " [1, 2.5, -3e2, \"x\", true, false, null, {\"a\": [{}]}] ", "\"\"", "0", "-0.0e-0", "[1,]",
      "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{1: 2}", "[01]", "[1.]", "[.5]", "[+1]", "[-]", "[1e]", "[1e+]", "[tru]",
      "[nul]", "[True]", "[\"a\tb\"]", "[\"\\x\"]", "[\"\\u12\"]", "[\"\\ud800\"]", "[\"\\udc00\"]",
      "[\"\\ud800\\u0041\"]", "[\"\xff\"]", "[\"\xc0\x80\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]",
      "[\"\xe2\x82\"]", "[1] [2]", "[1] x", "", "   ", "[", "[1", "[\"abc", "{\"a\":", "/* c */ []", "\xEF\xBB\xBF[]",
      "\xEF\xBB[]", "[1]\n\n", "[\"\\u0000\"]", "{\"a\":{\"b\":[1,{\"c\":null}]}}", "[1}", "{\"a\":1]", "NaN",
      "[Infinity]", "[-01]", "[1E5]", "[0e0]", "[\"\x7f\"]", "[1e999]", "[1e-999]"};
  for (const std::string& d : docs) {
    const bool ours = walk_error(write_temp("accept.json", d)).empty();
    EXPECT_EQ(ours, nlohmann::json::accept(d)) << "'" << d << "': " << walk_error(write_temp("accept.json", d));
  }
}

TEST(JsonReader, SyntaxErrorsNameFileAndByte) {
  struct Case {
    std::string doc;
    int64_t byte;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"[1, 2", 5, "unexpected end of input; expected ',' or ']'"},     // truncated
      {"[\"abc", 5, "unexpected end of input inside a string"},         // truncated inside a string
      {"", 0, "unexpected end of input; expected a value"},             // empty file
      {"[1,]", 3, "unexpected ']'; expected a value"},                  // trailing comma
      {"[01]", 2, "unexpected '1'; expected ',' or ']'"},               // leading zero
      {"[1.]", 3, "expected a digit after '.'"},                        //
      {"[1e+x]", 4, "expected a digit in the exponent"},                //
      {"{\"a\" 1}", 5, "unexpected '1'; expected ':' after the key"},   //
      {"[\"a\x01\"]", 3, "control character U+0001 inside a string must be escaped"},
      {"[\"\\q\"]", 2, "invalid escape \\'q'"},                         //
      {"[\"\\ud800x\"]", 2, "high surrogate"},                          //
      {"[\"\xff\"]", 2, "ill-formed UTF-8 byte 0xFF"},                  //
      {"[tru]", 1, "invalid literal; expected 'true'"},                 //
      {"[1] 2", 4, "unexpected '2'; expected the end of the file"},     // trailing content
      {"\xEF\xBB[]", 2, "invalid byte-order mark"},                     //
  };
  for (const Case& c : cases) {
    const std::string path = write_temp("bad.json", c.doc);
    const std::string msg = walk_error(path);
    EXPECT_NE(msg.find(path + ": byte " + std::to_string(c.byte) + ": invalid JSON ("), std::string::npos)
        << c.doc << " -> " << msg;
    EXPECT_NE(msg.find(c.what), std::string::npos) << c.doc << " -> " << msg;
    // The same message whatever the chunk size.
    EXPECT_EQ(walk_error(path, 16), msg) << c.doc;
  }
  // The caller's context follows the message; a missing file is named too.
  const std::string path = write_temp("ctx.json", "[1, x]");
  try {
    JsonReader in(path);
    in.set_context([]() { return std::string(" in results[1]"); });
    in.skip_value();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(unexpected 'x'; expected a value) in results[1]"), std::string::npos)
        << e.what();
  }
  try {
    JsonReader in(path + ".missing");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ".missing: cannot open file");
  }
}

}  // namespace
}  // namespace instseg
