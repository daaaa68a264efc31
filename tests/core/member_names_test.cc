// Tests for member_names: both names kept, copies share one block, the last reference frees it
// (ASan in `make test-sanitize` checks the freeing), and the raw form the ledger packs.
#include "core/member_names.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace chorus::core {
namespace {

TEST(MemberNames, KeepsBothNames) {
    member_names names("alice", "Alice \xc3\xa9");
    EXPECT_EQ(names.user(), "alice");
    EXPECT_EQ(names.name(), "Alice \xc3\xa9");
    member_names empty;
    EXPECT_EQ(empty.user(), "");
    EXPECT_EQ(empty.name(), "");
    member_names no_name("bob", "");
    EXPECT_EQ(no_name.user(), "bob");
    EXPECT_EQ(no_name.name(), "");
}

TEST(MemberNames, LongestNamesFit) {
    std::string user(255, 'u');
    std::string name(255, 'n');
    member_names names(user, name);
    EXPECT_EQ(names.user(), user);
    EXPECT_EQ(names.name(), name);
}

TEST(MemberNames, CopiesShareTheBlockAndOutliveTheOriginal) {
    auto* original = new member_names("carol", "Carol");
    member_names copy = *original;
    EXPECT_EQ(copy.user().data(), original->user().data());  // one block
    delete original;
    EXPECT_EQ(copy.user(), "carol");
    EXPECT_EQ(copy.name(), "Carol");
}

TEST(MemberNames, AssignmentReplacesWithoutDisturbingOtherHolders) {
    member_names kept("dave", "Dave");
    member_names m = kept;
    m = member_names(m.user(), "David");  // a resume with a new display name
    EXPECT_EQ(m.user(), "dave");
    EXPECT_EQ(m.name(), "David");
    EXPECT_EQ(kept.name(), "Dave");  // the history's joined still says what it said
    m = kept;
    m = m;  // self-assignment keeps the reference
    EXPECT_EQ(m.name(), "Dave");
    member_names moved = std::move(m);
    EXPECT_EQ(moved.name(), "Dave");
    moved = std::move(moved);
    EXPECT_EQ(moved.user(), "dave");
}

TEST(MemberNames, RawFormKeepsItsReference) {
    member_names names("erin", "Erin");
    const void* raw = member_names(names).into_raw();  // a second reference, held raw
    names = member_names();
    member_names shared = member_names::share_raw(raw);
    EXPECT_EQ(shared.user(), "erin");
    member_names taken = member_names::from_raw(raw);  // the raw reference comes back
    EXPECT_EQ(taken.name(), "Erin");
    EXPECT_EQ(taken.user().data(), shared.user().data());
}

}  // namespace
}  // namespace chorus::core
