// Tests for member_index: lookups, inserts and deletions (backward shift) against a reference
// map over many random operations, iteration that visits every member once, growth, and ids
// that crowd one probe run.
#include "core/member_index.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "core/room.h"

namespace chorus::core {
namespace {

struct pool_of_members {
    std::map<uint32_t, std::unique_ptr<member>> owned;
    member* make(uint32_t id) {
        auto m = std::make_unique<member>();
        m->id = id;
        member* raw = m.get();
        owned[id] = std::move(m);
        return raw;
    }
};

std::set<uint32_t> ids_of(const member_index& index) {
    std::set<uint32_t> ids;
    for (member* m : index) EXPECT_TRUE(ids.insert(m->id).second) << "visited twice: " << m->id;
    return ids;
}

TEST(MemberIndex, EmptyFindsNothing) {
    member_index index;
    EXPECT_TRUE(index.empty());
    EXPECT_EQ(index.find(1), nullptr);
    EXPECT_FALSE(index.erase(1));
    EXPECT_TRUE(ids_of(index).empty());
}

TEST(MemberIndex, SequentialIdsGrowAndShrink) {
    pool_of_members pool;
    member_index index;
    for (uint32_t id = 1; id <= 1000; ++id) index.insert(pool.make(id));
    EXPECT_EQ(index.size(), 1000u);
    for (uint32_t id = 1; id <= 1000; ++id) ASSERT_EQ(index.find(id), pool.owned[id].get());
    EXPECT_EQ(index.find(0), nullptr);
    EXPECT_EQ(index.find(1001), nullptr);
    EXPECT_EQ(ids_of(index).size(), 1000u);
    for (uint32_t id = 1; id <= 1000; id += 2) ASSERT_TRUE(index.erase(id));
    for (uint32_t id = 1; id <= 1000; ++id)
        ASSERT_EQ(index.find(id), id % 2 ? nullptr : pool.owned[id].get()) << id;
    for (uint32_t id = 2; id <= 1000; id += 2) ASSERT_TRUE(index.erase(id));
    EXPECT_TRUE(index.empty());
    EXPECT_TRUE(ids_of(index).empty());
    index.insert(pool.make(7));  // usable again after emptying
    EXPECT_EQ(index.find(7), pool.owned[7].get());
}

TEST(MemberIndex, RandomOperationsMatchAReferenceMap) {
    pool_of_members pool;
    member_index index;
    std::map<uint32_t, member*> reference;
    std::mt19937 random(17);
    for (int step = 0; step < 200000; ++step) {
        // A small id space makes collisions, long probe runs and wrap-around frequent.
        uint32_t id = 1 + random() % 300;
        bool present = reference.count(id) != 0;
        if (random() % 3 != 0 && !present) {
            member* m = pool.make(id);
            index.insert(m);
            reference[id] = m;
        } else if (present) {
            ASSERT_TRUE(index.erase(id));
            reference.erase(id);
        } else {
            ASSERT_FALSE(index.erase(id));
        }
        uint32_t probe = 1 + random() % 300;
        auto found = reference.find(probe);
        ASSERT_EQ(index.find(probe), found == reference.end() ? nullptr : found->second);
        ASSERT_EQ(index.size(), reference.size());
    }
    std::set<uint32_t> expected;
    for (auto& [id, m] : reference) expected.insert(id);
    EXPECT_EQ(ids_of(index), expected);
}

TEST(MemberIndex, IdsSharingAHomeSlotStayFindable) {
    pool_of_members pool;
    member_index index;
    // Ids whose hash lands on the same few slots (multiples of a large power of two).
    std::vector<uint32_t> ids;
    for (uint32_t k = 1; k <= 7; ++k) ids.push_back(k << 24);
    for (uint32_t id : ids) index.insert(pool.make(id));
    for (size_t gone = 0; gone < ids.size(); ++gone) {
        ASSERT_TRUE(index.erase(ids[gone]));
        for (size_t i = gone + 1; i < ids.size(); ++i) ASSERT_NE(index.find(ids[i]), nullptr);
    }
}

}  // namespace
}  // namespace chorus::core
