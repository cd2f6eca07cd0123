/*
** harness.h - a framework-free assert harness for the auth tests.
**
** Each CHECK_* prints both operands and the line on failure and counts
** it; a test program returns harness_result(), so one ctest is red when
** any check failed. Nothing aborts early: one run reports every failure.
*/
#ifndef VMB_TEST_HARNESS_H
#define VMB_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_failures;
static int harness_checks;

#define CHECK(cond) do { harness_checks++; if(!(cond)) { \
  harness_failures++; \
  fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
  } } while(0)

#define CHECK_INT(a, b) do { long long va_ = (long long)(a), vb_ = (long long)(b); \
  harness_checks++; if(va_ != vb_) { harness_failures++; \
  fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
          __LINE__, #a, #b, va_, vb_); } } while(0)

#define CHECK_STR(a, b) do { const char *sa_ = (a), *sb_ = (b); \
  harness_checks++; if(!sa_ || !sb_ || strcmp(sa_, sb_) != 0) { \
  harness_failures++; \
  fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, \
          __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
  } } while(0)

static inline int harness_result(const char *what)
{
  fprintf(stderr, "%s: %d checks, %d failed\n", what, harness_checks,
          harness_failures);
  return harness_failures ? 1 : 0;
}

#endif
