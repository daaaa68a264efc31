// The per-frame cost of room audio at the top of the audio path (member_input::on_binary):
// plain 0x01 with seat mode off against 0x03 from a seated member in seat mode (the seat check
// once per frame and the speaking-set note), for rooms of 20 and 50. Deliveries are queued to
// fake sessions and let go after each frame, as a send would; no sockets.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/member_input.h"
#include "tests/core/room_fakes.h"

namespace {

using namespace chorus::core;

void room_audio(benchmark::State& state) {
    bool seat_mode = state.range(0) != 0;
    auto members = static_cast<uint32_t>(state.range(1));
    fakes::room_world world;
    world.config.default_seats = seat_mode ? 8 : 0;
    std::vector<session*> sessions;
    for (uint32_t i = 0; i < members; ++i) {
        session& s = world.new_session();
        join_request request;
        request.room = "lobby";
        request.user = "u" + std::to_string(i);
        request.name = request.user;
        world.sync->join(s, std::move(request));
        sessions.push_back(&s);
    }
    room& r = *world.rooms.find("lobby");
    member& speaker = *sessions[0]->self;
    if (seat_mode) {
        seat_request take;
        take.what = seat_request::kind::take;
        take.member = speaker.id;
        world.sync->change_seats(r, speaker, take);
    }
    member_input input(world.writer, *world.sync);
    std::vector<uint8_t> frame =
        seat_mode ? std::vector<uint8_t>{0x03, 30} : std::vector<uint8_t>{0x01};
    frame.resize(frame.size() + 120, 0x5a);  // a 120-byte Opus packet
    for (session* s : sessions) s->out.clear(world.pool);
    for (auto _ : state) {
        input.on_binary(*sessions[0], frame);
        for (size_t i = 1; i < sessions.size(); ++i) sessions[i]->out.clear(world.pool);
    }
    if (world.metrics.audio_dropped_forbidden.get() != 0) state.SkipWithError("audio dropped");
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * (members - 1));
}
BENCHMARK(room_audio)->ArgNames({"seats_0x03", "members"})->ArgsProduct({{0, 1}, {20, 50}});

}  // namespace
