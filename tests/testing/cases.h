// Named cases of parameterised tests: a case struct derives from NamedCase (its first initialiser
// is then the name), gtest prints a case as its name, and CaseName names each instantiated test
// after its case: INSTANTIATE_TEST_SUITE_P(Prefix, Suite, ::testing::ValuesIn(kCases), CaseName()).
#pragma once

#include <ostream>
#include <string>

#include <gtest/gtest.h>

namespace effnet::testing {

struct NamedCase {
  const char* name;
};

// Found by argument-dependent lookup for every case type derived from NamedCase: readable ctest
// names and failure messages instead of a byte dump of the parameter.
inline std::ostream& operator<<(std::ostream& os, const NamedCase& c) { return os << c.name; }

struct CaseName {
  template <class Case>
  std::string operator()(const ::testing::TestParamInfo<Case>& info) const {
    return info.param.name;
  }
};

}  // namespace effnet::testing
