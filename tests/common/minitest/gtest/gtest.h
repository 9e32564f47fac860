// A tiny stand-in for GoogleTest's <gtest/gtest.h>, for machines without
// GoogleTest (the GPU machine: a pip-wheel LibTorch, no Debian packages, no
// network; see scripts/gpu_check.sh). tests/CMakeLists.txt puts this folder on
// the include path only when find_package(GTest) fails, and then builds only
// the LibTorch-only `cuda` test executable with it.
//
// It covers what instseg's tests use: TEST, TEST_F, EXPECT_/ASSERT_ {TRUE,
// FALSE, EQ, NE, LT, LE, GT, GE, NEAR, FLOAT_EQ, DOUBLE_EQ, THROW, NO_THROW},
// GTEST_SKIP, SCOPED_TRACE, streamed messages (<< after any of them), InitGoogleTest with
// --gtest_filter=A.*:B.c (positive patterns, '*' and '?'), --gtest_list_tests,
// RUN_ALL_TESTS, UnitTest's passed / skipped / failed counts. Not covered: parameterised and typed tests, death tests,
// matchers. Output imitates GoogleTest's closely enough for a human reader;
// the exit status is 0 when nothing failed.
#pragma once
#define INSTSEG_MINITEST 1

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace testing {

class Test {
 public:
  virtual ~Test() = default;
  virtual void SetUp() {}
  virtual void TearDown() {}
  virtual void TestBody() = 0;
};

namespace internal {

struct TestInfo {
  std::string suite, name;
  std::function<Test*()> factory;
};

inline std::vector<TestInfo>& registry() {
  static std::vector<TestInfo> r;
  return r;
}

struct State {
  bool failed = false;   // the running test failed
  bool skipped = false;  // the running test called GTEST_SKIP
  std::string filter = "*";
  bool list_only = false;
  std::vector<std::string> traces;  // SCOPED_TRACE messages, innermost last
  int n_passed = 0, n_skipped = 0, n_failed = 0;  // after RUN_ALL_TESTS, for UnitTest
};

inline State& state() {
  static State s;
  return s;
}

inline bool register_test(const char* suite, const char* name, std::function<Test*()> f) {
  registry().push_back({suite, name, std::move(f)});
  return true;
}

// Glob match with '*' and '?'.
inline bool glob(const char* p, const char* s) {
  if (*p == '\0') return *s == '\0';
  if (*p == '*') return glob(p + 1, s) || (*s != '\0' && glob(p, s + 1));
  if (*s == '\0') return false;
  return (*p == '?' || *p == *s) && glob(p + 1, s + 1);
}

inline bool filter_matches(const std::string& full) {
  std::string f = state().filter;
  const auto dash = f.find('-');  // negative patterns: not supported, ignored
  if (dash != std::string::npos) f = f.substr(0, dash);
  if (f.empty()) f = "*";
  std::stringstream ss(f);
  for (std::string pat; std::getline(ss, pat, ':');)
    if (glob(pat.c_str(), full.c_str())) return true;
  return false;
}

// Collects the streamed message of one failed check and prints it when the
// statement ends (the temporary's destructor), GoogleTest style.
class Message {
 public:
  Message(const char* file, int line, std::string what) : file_(file), line_(line), what_(std::move(what)) {}
  template <typename T>
  Message& operator<<(const T& v) {
    extra_ << v;
    return *this;
  }
  ~Message() {
    state().failed = true;
    std::cout << file_ << ":" << line_ << ": Failure\n" << what_;
    const std::string e = extra_.str();
    if (!e.empty()) std::cout << "\n" << e;
    for (auto it = state().traces.rbegin(); it != state().traces.rend(); ++it) std::cout << "\nTrace: " << *it;
    std::cout << std::endl;
  }

 private:
  const char* file_;
  int line_;
  std::string what_;
  std::ostringstream extra_;
};

// Swallows the message of a check that passed.
struct Null {
  template <typename T>
  Null& operator<<(const T&) {
    return *this;
  }
};

class ScopedTrace {
 public:
  template <typename T>
  ScopedTrace(const char* file, int line, const T& message) {
    std::ostringstream o;
    o << file << ":" << line << ": " << message;
    state().traces.push_back(o.str());
  }
  ~ScopedTrace() { state().traces.pop_back(); }
  ScopedTrace(const ScopedTrace&) = delete;
  ScopedTrace& operator=(const ScopedTrace&) = delete;
};

class Skip {
 public:
  template <typename T>
  Skip& operator<<(const T& v) {
    msg_ << v;
    return *this;
  }
  ~Skip() {
    state().skipped = true;
    std::cout << "Skipped: " << msg_.str() << std::endl;
  }

 private:
  std::ostringstream msg_;
};

// Printable form of a value for failure messages.
template <typename T, typename = void>
struct is_streamable : std::false_type {};
template <typename T>
struct is_streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

template <typename T>
std::string show(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (is_streamable<T>::value) {
    std::ostringstream o;
    o.precision(17);
    o << v;
    return o.str();
  } else {
    return "<" + std::to_string(sizeof(T)) + "-byte object>";
  }
}

// The outcome of one check: true, or false with the failure's text.
struct Result {
  bool ok;
  std::string msg;
  explicit operator bool() const { return ok; }
};

template <typename Op, typename A, typename B>
Result check(Op op, const A& a, const B& b, const char* ea, const char* eb, const char* ops) {
  if (op(a, b)) return {true, {}};
  return {false, std::string("Expected: (") + ea + ") " + ops + " (" + eb + "), actual: " + show(a) + " vs " +
                     show(b)};
}

inline Result check_bool(bool v, bool want, const char* expr) {
  if (v == want) return {true, {}};
  return {false, std::string("Value of: ") + expr + "\n  Actual: " + (v ? "true" : "false") +
                     "\nExpected: " + (want ? "true" : "false")};
}

// `Voidify() = message << ...;` is a void expression, so that
// `return Voidify() = ...;` leaves a void test body (GoogleTest's trick).
struct Voidify {
  template <typename T>
  void operator=(const T&) const {}
};

inline bool almost_equal(double a, double b, double ulp_scale) {
  if (a == b) return true;
  return std::fabs(a - b) <= ulp_scale * std::fmax(std::fabs(a), std::fabs(b));
}

}  // namespace internal

inline void InitGoogleTest(int* argc, char** argv) {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--gtest_filter=", 15) == 0) {
      internal::state().filter = a + 15;
    } else if (std::strcmp(a, "--gtest_list_tests") == 0) {
      internal::state().list_only = true;
    } else if (std::strncmp(a, "--gtest_", 8) == 0) {
      // other GoogleTest flags: accepted and ignored
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
}

inline int RunAllTests() {
  auto& st = internal::state();
  if (st.list_only) {
    std::string suite;
    for (const auto& t : internal::registry()) {
      if (!internal::filter_matches(t.suite + "." + t.name)) continue;
      if (t.suite != suite) std::cout << (suite = t.suite) << ".\n";
      std::cout << "  " << t.name << "\n";
    }
    return 0;
  }
  int run = 0, passed = 0, skipped = 0;
  std::vector<std::string> failed;
  std::cout << "[==========] minitest (instseg's stand-in for GoogleTest)" << std::endl;
  for (const auto& t : internal::registry()) {
    const std::string full = t.suite + "." + t.name;
    if (!internal::filter_matches(full)) continue;
    ++run;
    st.failed = st.skipped = false;
    st.traces.clear();
    std::cout << "[ RUN      ] " << full << std::endl;
    try {
      Test* test = t.factory();
      test->SetUp();
      if (!st.failed && !st.skipped) test->TestBody();
      test->TearDown();
      delete test;
    } catch (const std::exception& e) {
      st.failed = true;
      std::cout << "C++ exception thrown in the test body: " << e.what() << std::endl;
    } catch (...) {
      st.failed = true;
      std::cout << "unknown exception thrown in the test body" << std::endl;
    }
    if (st.failed) {
      failed.push_back(full);
      std::cout << "[  FAILED  ] " << full << std::endl;
    } else if (st.skipped) {
      ++skipped;
      std::cout << "[  SKIPPED ] " << full << std::endl;
    } else {
      ++passed;
      std::cout << "[       OK ] " << full << std::endl;
    }
  }
  std::cout << "[==========] " << run << " tests ran.\n[  PASSED  ] " << passed << " tests.\n";
  if (skipped) std::cout << "[  SKIPPED ] " << skipped << " tests.\n";
  for (const auto& f : failed) std::cout << "[  FAILED  ] " << f << "\n";
  std::cout << std::flush;
  st.n_passed = passed;
  st.n_skipped = skipped;
  st.n_failed = static_cast<int>(failed.size());
  return failed.empty() ? 0 : 1;
}

// The counts of GoogleTest's UnitTest that tests/common/test_main.cpp reads.
class UnitTest {
 public:
  static UnitTest* GetInstance() {
    static UnitTest u;
    return &u;
  }
  int successful_test_count() const { return internal::state().n_passed; }
  int skipped_test_count() const { return internal::state().n_skipped; }
  int failed_test_count() const { return internal::state().n_failed; }
};

}  // namespace testing

#define RUN_ALL_TESTS() ::testing::RunAllTests()

#define MINITEST_CLASS_(suite, name) suite##_##name##_Test

#define MINITEST_DEFINE_(suite, name, base)                                                      \
  class MINITEST_CLASS_(suite, name) : public base {                                             \
   public:                                                                                       \
    void TestBody() override;                                                                    \
  };                                                                                             \
  static const bool minitest_registered_##suite##_##name = ::testing::internal::register_test(  \
      #suite, #name, [] { return static_cast<::testing::Test*>(new MINITEST_CLASS_(suite, name)); }); \
  void MINITEST_CLASS_(suite, name)::TestBody()

#define TEST(suite, name) MINITEST_DEFINE_(suite, name, ::testing::Test)
#define TEST_F(fixture, name) MINITEST_DEFINE_(fixture, name, fixture)

// A failed EXPECT records and continues; a failed ASSERT also returns from
// the test body (so ASSERTs only work in void functions, as in GoogleTest).
// `if (ok) ; else` keeps a trailing << on the right check; each operand is
// evaluated once.
#define MINITEST_CHECK_(result, on_fail)                                                       \
  if (const ::testing::internal::Result minitest_r = (result))                                 \
    ;                                                                                          \
  else                                                                                         \
    on_fail ::testing::internal::Voidify() =                                                   \
        ::testing::internal::Message(__FILE__, __LINE__, minitest_r.msg)

#define MINITEST_NONFATAL_
#define MINITEST_FATAL_ return

#define MINITEST_CMP_(a, b, op, kind)                                                          \
  MINITEST_CHECK_(::testing::internal::check(                                                  \
                      [](const auto& x, const auto& y) { return static_cast<bool>(x op y); }, \
                      (a), (b), #a, #b, #op),                                                  \
                  kind)

#define MINITEST_BOOL_(c, want, kind)                                                          \
  MINITEST_CHECK_(::testing::internal::check_bool(static_cast<bool>(c), want, #c), kind)

#define MINITEST_NEAR_(a, b, tol, kind)                                                        \
  MINITEST_CHECK_(::testing::internal::check(                                                  \
                      [t = static_cast<double>(tol)](double x, double y) { return std::fabs(x - y) <= t; }, \
                      static_cast<double>(a), static_cast<double>(b), #a, #b, "near (" #tol ")"), \
                  kind)

#define MINITEST_FP_EQ_(a, b, rel, kind)                                                       \
  MINITEST_CHECK_(::testing::internal::check(                                                  \
                      [](double x, double y) { return ::testing::internal::almost_equal(x, y, rel); }, \
                      static_cast<double>(a), static_cast<double>(b), #a, #b, "=="),           \
                  kind)

#define MINITEST_THROW_(stmt, exc, kind)                                                       \
  MINITEST_CHECK_(::testing::internal::check_bool(                                             \
                      [&] {                                                                    \
                        try {                                                                  \
                          stmt;                                                                \
                        } catch (const exc&) {                                                 \
                          return true;                                                         \
                        } catch (...) {                                                        \
                        }                                                                      \
                        return false;                                                          \
                      }(),                                                                     \
                      true, #stmt " throws " #exc),                                            \
                  kind)

#define MINITEST_NO_THROW_(stmt, kind)                                                         \
  MINITEST_CHECK_(::testing::internal::check_bool(                                             \
                      [&] {                                                                    \
                        try {                                                                  \
                          stmt;                                                                \
                        } catch (...) {                                                        \
                          return false;                                                        \
                        }                                                                      \
                        return true;                                                           \
                      }(),                                                                     \
                      true, #stmt " does not throw"),                                          \
                  kind)

#define EXPECT_TRUE(c) MINITEST_BOOL_(c, true, MINITEST_NONFATAL_)
#define EXPECT_FALSE(c) MINITEST_BOOL_(c, false, MINITEST_NONFATAL_)
#define ASSERT_TRUE(c) MINITEST_BOOL_(c, true, MINITEST_FATAL_)
#define ASSERT_FALSE(c) MINITEST_BOOL_(c, false, MINITEST_FATAL_)
#define EXPECT_EQ(a, b) MINITEST_CMP_(a, b, ==, MINITEST_NONFATAL_)
#define EXPECT_NE(a, b) MINITEST_CMP_(a, b, !=, MINITEST_NONFATAL_)
#define EXPECT_LT(a, b) MINITEST_CMP_(a, b, <, MINITEST_NONFATAL_)
#define EXPECT_LE(a, b) MINITEST_CMP_(a, b, <=, MINITEST_NONFATAL_)
#define EXPECT_GT(a, b) MINITEST_CMP_(a, b, >, MINITEST_NONFATAL_)
#define EXPECT_GE(a, b) MINITEST_CMP_(a, b, >=, MINITEST_NONFATAL_)
#define ASSERT_EQ(a, b) MINITEST_CMP_(a, b, ==, MINITEST_FATAL_)
#define ASSERT_NE(a, b) MINITEST_CMP_(a, b, !=, MINITEST_FATAL_)
#define ASSERT_LT(a, b) MINITEST_CMP_(a, b, <, MINITEST_FATAL_)
#define ASSERT_LE(a, b) MINITEST_CMP_(a, b, <=, MINITEST_FATAL_)
#define ASSERT_GT(a, b) MINITEST_CMP_(a, b, >, MINITEST_FATAL_)
#define ASSERT_GE(a, b) MINITEST_CMP_(a, b, >=, MINITEST_FATAL_)
#define EXPECT_NEAR(a, b, t) MINITEST_NEAR_(a, b, t, MINITEST_NONFATAL_)
#define ASSERT_NEAR(a, b, t) MINITEST_NEAR_(a, b, t, MINITEST_FATAL_)
#define EXPECT_FLOAT_EQ(a, b) MINITEST_FP_EQ_(a, b, 4 * 1.2e-7, MINITEST_NONFATAL_)
#define EXPECT_DOUBLE_EQ(a, b) MINITEST_FP_EQ_(a, b, 4 * 2.3e-16, MINITEST_NONFATAL_)
#define EXPECT_THROW(s, e) MINITEST_THROW_(s, e, MINITEST_NONFATAL_)
#define ASSERT_THROW(s, e) MINITEST_THROW_(s, e, MINITEST_FATAL_)
#define EXPECT_NO_THROW(s) MINITEST_NO_THROW_(s, MINITEST_NONFATAL_)
#define ASSERT_NO_THROW(s) MINITEST_NO_THROW_(s, MINITEST_FATAL_)
#define ADD_FAILURE() ::testing::internal::Voidify() = ::testing::internal::Message(__FILE__, __LINE__, "Failed")
#define FAIL() return ::testing::internal::Voidify() = ::testing::internal::Message(__FILE__, __LINE__, "Failed")
#define SUCCEED() ::testing::internal::Voidify() = ::testing::internal::Null()
#define MINITEST_CAT2_(a, b) a##b
#define MINITEST_CAT_(a, b) MINITEST_CAT2_(a, b)
#define SCOPED_TRACE(message) \
  ::testing::internal::ScopedTrace MINITEST_CAT_(minitest_trace_, __LINE__)(__FILE__, __LINE__, (message))
#define GTEST_SKIP() return ::testing::internal::Voidify() = ::testing::internal::Skip()
