// Search spaces of --tune: the defaults per optimiser, --space overrides and their usage
// errors, the scales, and the trials drawn from a space.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "apps/compare/search_space.h"
#include "core/error.h"
#include "optim/spec.h"

namespace ember::compare {
namespace {

TEST(SearchSpace, EveryOptimiserHasAValidDefaultSpaceWithLogLrFirst) {
  for (const std::string& name : optim::optimizer_names()) {
    const SearchSpace s = search_space_for(name, {});  // throws if a bound gives an invalid spec
    ASSERT_FALSE(s.dimensions.empty()) << name;
    EXPECT_EQ(s.dimensions[0].key, "lr") << name;
    EXPECT_EQ(s.dimensions[0].scale, Scale::Log) << name;
    EXPECT_TRUE(has_declared_space(name)) << name << " has no row in the table of default spaces";
  }
  const SearchSpace adam = default_search_space("adam");
  EXPECT_EQ(format_search_space(adam),
            "lr=1e-05:0.1:log,beta1=0.5:0.99:log1m,beta2=0.9:0.9999:log1m,eps=1e-10:0.001:log,"
            "weight_decay=1e-06:0.01:log");
}

TEST(SearchSpace, AnOptimiserWithoutARowTunesTheLearningRateOnly) {
  // Every optimiser has a row today; a name without one (a future optimiser) gets lr only.
  EXPECT_FALSE(has_declared_space("newopt"));
  const SearchSpace s = default_search_space("newopt");
  ASSERT_EQ(s.dimensions.size(), 1u);
  EXPECT_EQ(format_search_space(s), "lr=1e-05:1:log");
}

TEST(SearchSpace, OverridesReplaceAddAndFixKeys) {
  const std::vector<SpaceOverride> o = {parse_space_override("adam:lr=1e-4:1e-2,beta2=fixed,eps=fixed"),
                                        parse_space_override("sgd:lr=0.1:0.5:linear,dampening=0:0.5")};
  EXPECT_EQ(format_search_space(search_space_for("adam:lr=1e-3", o)),
            "lr=0.0001:0.01:log,beta1=0.5:0.99:log1m,weight_decay=1e-06:0.01:log");
  EXPECT_EQ(format_search_space(search_space_for("sgd", o)),
            "lr=0.1:0.5:linear,momentum=0.5:0.999:log1m,weight_decay=1e-06:0.01:log,dampening=0:0.5:linear");
  // Overrides of another optimiser leave this one alone.
  EXPECT_EQ(format_search_space(search_space_for("rmsprop", o)), format_search_space(default_search_space("rmsprop")));
}

TEST(SearchSpace, BadOverridesAreUsageErrors) {
  for (const char* bad : {"adam", "adam:", ":lr=1:2", "adam:lr", "adam:lr=1e-3", "adam:lr=1e-3:1e-2:cubic",
                          "adam:lr=1e-2:1e-3",      // low >= high
                          "adam:lr=1e-2:1e-2",      // low == high
                          "adam:lr=0:1e-2:log",     // non-positive bound on a log scale
                          "adam:lr=-1:1",           // lr's default scale is log
                          "adam:beta1=0.5:1:log1m", // 1 - value must stay positive
                          "adamx:lr=1e-3:1e-2",     // unknown optimiser
                          "adam:momentum=0.1:0.9",  // unknown key for adam
                          "adam:amsgrad=0:1",       // a flag is no range
                          "adam:lr=fixed", "adam:lr=a:1", "adam:lr=1e-3:nan"}) {
    EXPECT_THROW(parse_space_override(bad), UsageError) << bad;
  }
  try {
    parse_space_override("adam:momentum=0.1:0.9");
  } catch (const UsageError& e) {
    EXPECT_NE(e.message().find("adam has no key 'momentum'"), std::string::npos) << e.message();
  }
  // Bounds that parse but make an invalid spec: nag needs momentum > 0.
  EXPECT_THROW(search_space_for("nag", {parse_space_override("nag:momentum=0:0.9:linear")}), UsageError);
}

TEST(SearchSpace, ScalesMapTheUnitIntervalOntoTheRange) {
  const SearchDimension lin{"x", -1, 3, Scale::Linear}, log{"lr", 1e-4, 1e-2, Scale::Log},
      m{"beta2", 0.9, 0.999, Scale::LogOneMinus};
  // Tolerance: a few ulps of exp/log round trips.
  EXPECT_DOUBLE_EQ(map_unit(lin, 0), -1);
  EXPECT_DOUBLE_EQ(map_unit(lin, 0.25), 0);
  EXPECT_NEAR(map_unit(log, 0), 1e-4, 1e-18);
  EXPECT_NEAR(map_unit(log, 0.5), 1e-3, 1e-17);  // the geometric mean
  EXPECT_NEAR(map_unit(log, 1), 1e-2, 1e-16);
  EXPECT_NEAR(map_unit(m, 0), 0.9, 1e-15);
  EXPECT_NEAR(map_unit(m, 0.5), 0.99, 1e-15);  // 1 - sqrt(0.1 * 0.001)
  EXPECT_NEAR(map_unit(m, 1), 0.999, 1e-15);
}

TEST(SearchSpace, TrialsCoverTheSpaceAndGiveValidSpecs) {
  const std::string base = "adam:lr=1e-3,amsgrad=true";
  const SearchSpace space = search_space_for(base, {});
  const std::vector<Trial> trials = draw_trials(base, space, 16, /*seed=*/5);
  ASSERT_EQ(trials.size(), 16u);
  std::set<int> lr_cells;
  for (const Trial& t : trials) {
    const optim::OptimizerSpec spec = optim::parse_optimizer_spec(t.spec);
    EXPECT_TRUE(spec.hyper.amsgrad) << t.spec;  // keys outside the space keep the spec's value
    ASSERT_EQ(t.values.size(), space.dimensions.size());
    for (size_t d = 0; d < t.values.size(); ++d) {
      const SearchDimension& dim = space.dimensions[d];
      EXPECT_EQ(t.values[d].first, dim.key);
      EXPECT_TRUE(t.values[d].second >= dim.low && t.values[d].second <= dim.high) << t.spec;
    }
    EXPECT_FLOAT_EQ(spec.hyper.lr, static_cast<float>(t.values[0].second));
    // lr is coordinate 0 (base 2): 16 trials put one lr in each sixteenth of the log range.
    lr_cells.insert(static_cast<int>((std::log(t.values[0].second) - std::log(1e-5)) / (std::log(1e-1) - std::log(1e-5)) * 16));
  }
  EXPECT_EQ(lr_cells.size(), 16u);
  EXPECT_EQ(draw_trials(base, space, 16, 5)[7].spec, trials[7].spec);  // repeatable
  EXPECT_NE(draw_trials(base, space, 16, 6)[7].spec, trials[7].spec);  // seeded
  EXPECT_THROW(draw_trials(base, space, 0, 5), UsageError);
}

TEST(SearchSpace, SpecWithReplacesOrAppendsKeys) {
  EXPECT_EQ(spec_with("sgd:lr=0.01, momentum=0.9", {{"lr", 0.5}, {"weight_decay", 1e-4}}),
            "sgd:lr=0.5, momentum=0.9,weight_decay=0.0001");
  EXPECT_EQ(spec_with("adam", {{"lr", 0.001}}), "adam:lr=0.001");
  EXPECT_EQ(spec_name(" adamw :lr=1"), "adamw");
}

}  // namespace
}  // namespace ember::compare
