// Transparent huge pages for a large buffer that is about to be written.
//
// Why: every 4 KiB page a process touches for the first time costs a page
// fault, and in a virtual machine a fault is expensive: on the 2-core VM of
// docs/performance.md ("Start-up") writing a fresh 16 MiB buffer took ~45 ms
// of CPU in 4 096 faults, the same buffer advised for huge pages ~1.5 ms in
// 8. `instseg eval` writes a few such buffers (the results list, the
// evaluator's detections, the precision table: ~22 MB on a 50 000-detection
// file), and their faults were a tenth of its CPU time.
//
// Only the whole 2 MiB pages inside [data, data + bytes) are advised (the
// range is someone else's allocation: nothing outside it may change). It is
// a hint: where THP is off ("never") or already "always" it changes nothing,
// and errors are ignored.
#pragma once
#include <cstddef>

namespace instseg {

void advise_huge_pages(const void* data, size_t bytes);

}  // namespace instseg
