// The speaking set: the threshold, the 300 ms window, the 8 loudest with ties by id, 200 ms
// between announcements (changes in between coalesced), and members who leave.
#include "core/speaking.h"

#include <gtest/gtest.h>

namespace chorus::core {
namespace {

using ids = std::vector<uint32_t>;
constexpr uint64_t t0 = 1'000'000;  // a monotonic clock well past its start

TEST(Speaking, OnlyFramesAtOrLouderThanTheThresholdCount) {
    speaking_set set(50);
    set.note(7, 51, t0);
    EXPECT_FALSE(set.active());
    EXPECT_FALSE(set.poll(t0));
    set.note(7, 50, t0);
    EXPECT_TRUE(set.poll(t0));
    EXPECT_EQ(set.members(), ids{7});
    EXPECT_EQ(set.json(), R"({"type":"speaking","members":[7]})");
}

TEST(Speaking, AFrameCountsForThreeHundredMilliseconds) {
    speaking_set set(50);
    set.note(7, 10, t0);
    ASSERT_TRUE(set.poll(t0));
    EXPECT_FALSE(set.poll(t0 + 299));  // still speaking: nothing new
    EXPECT_EQ(set.members(), ids{7});
    EXPECT_TRUE(set.poll(t0 + 330));  // quiet for a window: the set is empty
    EXPECT_TRUE(set.members().empty());
    EXPECT_FALSE(set.active());
}

TEST(Speaking, TheEightLoudestFirstTiesByLowerId) {
    speaking_set set(50);
    for (uint32_t id = 1; id <= 10; ++id) set.note(id, static_cast<uint8_t>(40 - id), t0);
    set.note(20, 35, t0);      // ties with member 5 (level 35): 5 first
    set.note(3, 45, t0 + 10);  // a quieter frame later does not lower its loudest (37)
    ASSERT_TRUE(set.poll(t0 + 20));
    EXPECT_EQ(set.members(), (ids{10, 9, 8, 7, 6, 5, 20, 4}));
}

TEST(Speaking, AnnouncementsAreTwoHundredMillisecondsApartAndCoalesced) {
    speaking_set set(50);
    set.note(1, 10, t0);
    ASSERT_TRUE(set.poll(t0));
    set.note(2, 10, t0 + 50);
    EXPECT_FALSE(set.poll(t0 + 50));  // too early: held
    set.note(3, 10, t0 + 120);
    EXPECT_FALSE(set.poll(t0 + 150));
    ASSERT_TRUE(set.poll(t0 + 200));  // both changes in one
    EXPECT_EQ(set.members(), (ids{1, 2, 3}));
    // A change that undoes itself before it is due is never announced.
    set.note(1, 10, t0 + 250);
    set.note(2, 10, t0 + 250);
    set.note(3, 10, t0 + 250);
    set.note(4, 10, t0 + 260);
    set.forget(4);
    EXPECT_FALSE(set.poll(t0 + 420));
}

TEST(Speaking, OrderAloneIsNoChange) {
    speaking_set set(50);
    set.note(1, 10, t0);
    set.note(2, 20, t0);
    ASSERT_TRUE(set.poll(t0));
    EXPECT_EQ(set.members(), (ids{1, 2}));
    set.note(2, 0, t0 + 250);
    set.note(1, 10, t0 + 250);
    EXPECT_FALSE(set.poll(t0 + 450));
}

TEST(Speaking, AMemberWhoLeftIsDroppedAtTheNextAnnouncement) {
    speaking_set set(50);
    set.note(1, 10, t0);
    set.note(2, 10, t0);
    ASSERT_TRUE(set.poll(t0));
    set.forget(2);
    set.note(1, 10, t0 + 200);
    ASSERT_TRUE(set.poll(t0 + 200));
    EXPECT_EQ(set.members(), ids{1});
}

TEST(Speaking, ASteadySpeakerStaysAcrossManyWindows) {
    speaking_set set(50);
    bool announced = false;
    for (uint64_t t = t0; t < t0 + 5000; t += 20) {
        set.note(5, 30, t);
        if (set.poll(t)) {
            EXPECT_FALSE(announced) << "announced twice at " << t - t0;
            announced = true;
        }
    }
    EXPECT_EQ(set.members(), ids{5});
}

}  // namespace
}  // namespace chorus::core
