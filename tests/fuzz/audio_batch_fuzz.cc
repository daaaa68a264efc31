// libFuzzer target for the audio batches nodes send each other through Redis
// (core/cluster/audio_batch.h): any bytes are accepted or refused without reading outside them;
// what is accepted walks to its end with the counted number of well-formed records, and encodes
// back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/cluster/audio_batch.h"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace chorus::core::cluster;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    audio_batch batch;
    if (!parse_audio_batch(input, &batch)) return 0;
    check(!batch.instance.empty() && batch.frames > 0);
    std::string again;
    begin_audio_batch(again, batch.instance);
    std::string_view rest = batch.records;
    audio_record r;
    size_t frames = 0;
    while (next_audio_record(rest, &r)) {
        check(!r.room.empty() && r.room.size() <= audio_batch_room_bytes_max &&
              r.frame.size() >= 2);
        check(r.level <= 127 || r.level == audio_batch_no_level);
        check(r.frame.data() >= input.data() &&
              r.frame.data() + r.frame.size() <= input.data() + size);
        append_audio_batch(again, r);
        ++frames;
    }
    check(rest.empty() && frames == batch.frames);
    check(again == input);
    return 0;
}
