// COCOeval (pycocotools cocoeval.py) in C++. The structure follows
// cocoeval.py so that each quirk has one obvious home:
//   evaluate():   _prepare (bucket by image and category), computeIoU and
//                 evaluateImg per (image, category, area range);
//   accumulate(): the per-category precision/recall tables;
//   stats():      summarize().
// Per (image, category, area) only two bits per detection and IoU threshold
// are kept (matched to a GT with a nonzero id, ignored) plus the count of
// non-ignored GT: that is all accumulate() reads. The full evalImgs entry is
// recomputed on demand by eval_image() with the same code.
#include "instseg/eval/coco_eval.h"

#include "instseg/core/huge_pages.h"
#include "instseg/core/require.h"
#include "instseg/core/threads.h"
#include "instseg/eval/rle_internal.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>
#include <unordered_map>

namespace instseg::eval {

const char* iou_type_name(IouType t) { return t == IouType::segm ? "segm" : "bbox"; }

std::vector<double> np_linspace(double start, double stop, int64_t num) {
  std::vector<double> y(static_cast<size_t>(std::max<int64_t>(num, 0)));
  if (num <= 0) return y;
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double step = (stop - start) / static_cast<double>(num - 1);
  for (int64_t i = 0; i < num; ++i) y[i] = static_cast<double>(i) * step + start;
  y[num - 1] = stop;
  return y;
}

double np_pairwise_sum(const double* a, int64_t n) {
  // numpy/core/src/umath/loops_utils.h.src pairwise_sum, unroll 8, block 128.
  if (n < 8) {
    double res = 0.;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return np_pairwise_sum(a, n2) + np_pairwise_sum(a + n2, n - n2);
}

namespace {

constexpr uint8_t kMatched = 1;  // dtMatches != 0
constexpr uint8_t kIgnored = 2;  // dtIgnore

// Runs fn(index) for index in [0, n) on up to `threads` std::threads.
template <typename Fn>
void parallel_for(size_t n, int threads, const Fn& fn) {
  const size_t nt = std::min<size_t>(std::max(threads, 1), n);
  if (nt <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr err;
  std::atomic<bool> failed{false};
  auto work = [&]() {
    try {
      for (size_t i; !failed.load() && (i = next.fetch_add(1)) < n;) fn(i);
    } catch (...) {
      if (!failed.exchange(true)) err = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(nt - 1);
  for (size_t t = 1; t < nt; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (err) std::rethrow_exception(err);
}

// Stable sort of indices by descending key (np.argsort(-key, kind='mergesort')).
// Insertion sort for the short lists of one image avoids an allocation.
template <typename Key>
void stable_sort_desc(std::vector<uint32_t>& idx, const Key& key) {
  if (idx.size() <= 64) {
    for (size_t i = 1; i < idx.size(); ++i) {
      const uint32_t v = idx[i];
      const double kv = key(v);
      size_t j = i;
      while (j > 0 && key(idx[j - 1]) < kv) {
        idx[j] = idx[j - 1];
        --j;
      }
      idx[j] = v;
    }
  } else {
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return key(a) > key(b); });
  }
}

}  // namespace

// Per (image, category) pair results kept for accumulate().
struct PairOut {
  int32_t k = 0;          // category slot (0 when use_cats is false)
  uint32_t D = 0;         // detections kept (score order, <= maxDets[-1])
  uint32_t score_off = 0;  // into ImageOut::scores
  uint32_t flag_off = 0;   // into ImageOut::flags: [A][T][D]
  uint32_t npig_off = 0;   // into ImageOut::npig: [A]
};

struct ImageOut {
  std::vector<PairOut> pairs;
  std::vector<double> scores;
  std::vector<uint8_t> flags;
  std::vector<int32_t> npig;
};

// Scratch buffers of one worker, reused for every pair.
struct Scratch {
  std::vector<uint32_t> gl, dl;    // GT (input order) and detections (score order)
  std::vector<double> ious;        // [D x G], GT in input order
  std::vector<double> dbox, gbox;  // mask boxes for segm
  std::vector<rle::Rle> dmask;     // decoded EvalDet::mask_string (capacity kept)
  std::vector<const rle::Rle*> dm;  // each detection's mask (its own or in dmask)
  std::vector<uint8_t> gt_ig;      // per GT in sorted order
  std::vector<uint8_t> crowd;      // per GT in sorted order
  std::vector<uint32_t> gtind;     // sorted position -> input position
  std::vector<int64_t> dtm, gtm;   // [T x D] gt ids, [T x G] dt ids
  std::vector<uint8_t> dtig;       // [T x D]
};

struct CocoEvaluator::State {
  const std::vector<EvalGt>* gts = nullptr;
  const std::vector<EvalDet>* dets = nullptr;
  size_t I = 0, K = 0, Kb = 0;  // images, category slots, bucket categories
  std::unordered_map<int64_t, int32_t> img_index, cat_index;
  std::vector<uint32_t> gt_off, gt_idx, dt_off, dt_idx;  // buckets [I*Kb]
  std::vector<ImageOut> images;
  bool evaluated = false;

  // Collects the pair's GT and detections and computes its IoU matrix
  // (computeIoU). Returns false when the pair holds nothing (None).
  bool prepare(const CocoEvalParams& p, size_t i, size_t k, Scratch& s) const {
    s.gl.clear();
    s.dl.clear();
    const size_t b0 = p.use_cats ? i * Kb + k : i * Kb, b1 = p.use_cats ? b0 + 1 : b0 + Kb;
    for (uint32_t j = gt_off[b0]; j < gt_off[b1]; ++j) s.gl.push_back(gt_idx[j]);
    for (uint32_t j = dt_off[b0]; j < dt_off[b1]; ++j) s.dl.push_back(dt_idx[j]);
    if (s.gl.empty() && s.dl.empty()) return false;
    const auto& D = *dets;
    stable_sort_desc(s.dl, [&](uint32_t d) { return D[d].score; });
    const size_t max_det = static_cast<size_t>(p.max_dets.back());
    if (s.dl.size() > max_det) s.dl.resize(max_det);
    const size_t nd = s.dl.size(), ng = s.gl.size();
    s.ious.assign(nd * ng, 0.0);
    if (nd == 0 || ng == 0) return true;
    const auto& G = *gts;
    if (p.iou_type == IouType::segm) {
      s.dbox.resize(nd * 4);
      s.gbox.resize(ng * 4);
      s.dm.resize(nd);
      if (s.dmask.size() < nd) s.dmask.resize(nd);  // never shrunk: the runs' capacity is reused
      for (size_t d = 0; d < nd; ++d) {
        const EvalDet& det = D[s.dl[d]];
        if (det.mask_string) {
          rle::from_string(*det.mask_string, det.mask.h, det.mask.w, &s.dmask[d]);
          s.dm[d] = &s.dmask[d];
        } else {
          s.dm[d] = &det.mask;
        }
        rle::to_bbox(*s.dm[d], &s.dbox[d * 4]);
      }
      for (size_t g = 0; g < ng; ++g) rle::to_bbox(G[s.gl[g]].mask, &s.gbox[g * 4]);
      for (size_t d = 0; d < nd; ++d)
        for (size_t g = 0; g < ng; ++g) {
          const EvalGt& gt = G[s.gl[g]];
          s.ious[d * ng + g] =
              rle::detail::mask_iou(*s.dm[d], gt.mask, &s.dbox[d * 4], &s.gbox[g * 4], gt.iscrowd);
        }
    } else {
      for (size_t d = 0; d < nd; ++d)
        for (size_t g = 0; g < ng; ++g) {
          const EvalGt& gt = G[s.gl[g]];
          s.ious[d * ng + g] = rle::detail::box_iou(D[s.dl[d]].bbox.data(), gt.bbox.data(), gt.iscrowd);
        }
    }
    return true;
  }

  // evaluateImg for one area range on a prepared pair: fills gtind, gt_ig,
  // dtm, gtm and dtig in pycocotools' layout.
  void match(const CocoEvalParams& p, size_t a, Scratch& s) const {
    const auto& G = *gts;
    const auto& D = *dets;
    const double lo = p.area_rng[a][0], hi = p.area_rng[a][1];
    const size_t ng = s.gl.size(), nd = s.dl.size(), T = p.iou_thrs.size();
    // gt['_ignore'], then a stable argsort of it: ignored GT last.
    s.gtind.clear();
    for (int pass = 0; pass < 2; ++pass)
      for (size_t g = 0; g < ng; ++g) {
        const EvalGt& gt = G[s.gl[g]];
        const bool ig = gt.iscrowd || gt.area < lo || gt.area > hi;
        if (ig == (pass == 1)) s.gtind.push_back(static_cast<uint32_t>(g));
      }
    s.gt_ig.resize(ng);
    s.crowd.resize(ng);
    for (size_t g = 0; g < ng; ++g) {
      const EvalGt& gt = G[s.gl[s.gtind[g]]];
      s.gt_ig[g] = gt.iscrowd || gt.area < lo || gt.area > hi;
      s.crowd[g] = gt.iscrowd;
    }
    s.dtm.assign(T * nd, 0);
    s.gtm.assign(T * ng, 0);
    s.dtig.assign(T * nd, 0);
    if (nd > 0 && ng > 0) {
      for (size_t t = 0; t < T; ++t) {
        int64_t* gtm = &s.gtm[t * ng];
        for (size_t d = 0; d < nd; ++d) {
          double iou = std::min(p.iou_thrs[t], 1 - 1e-10);
          int64_t m = -1;
          const double* row = &s.ious[d * ng];
          for (size_t g = 0; g < ng; ++g) {
            // Already matched and not a crowd region: skip.
            if (gtm[g] > 0 && !s.crowd[g]) continue;
            // Matched to a regular GT and reached the ignored ones: stop.
            if (m > -1 && s.gt_ig[m] == 0 && s.gt_ig[g] == 1) break;
            const double v = row[s.gtind[g]];
            if (v < iou) continue;
            iou = v;
            m = static_cast<int64_t>(g);
          }
          if (m == -1) continue;
          s.dtig[t * nd + d] = s.gt_ig[m];
          s.dtm[t * nd + d] = G[s.gl[s.gtind[m]]].id;
          gtm[m] = D[s.dl[d]].id;
        }
      }
    }
    // Unmatched detections outside the area range are ignored.
    for (size_t d = 0; d < nd; ++d) {
      const double ar = D[s.dl[d]].area;
      if (ar < lo || ar > hi)
        for (size_t t = 0; t < T; ++t)
          if (s.dtm[t * nd + d] == 0) s.dtig[t * nd + d] = 1;
    }
  }
};

CocoEvaluator::CocoEvaluator(CocoEvalParams params) : p_(std::move(params)), s_(std::make_unique<State>()) {
  auto sort_unique = [](std::vector<int64_t>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  sort_unique(p_.img_ids);
  sort_unique(p_.cat_ids);
  std::sort(p_.max_dets.begin(), p_.max_dets.end());
  INSTSEG_REQUIRE(!p_.iou_thrs.empty() && !p_.rec_thrs.empty(), "CocoEvalParams: empty thresholds");
  INSTSEG_REQUIRE(!p_.max_dets.empty() && p_.max_dets.front() >= 0, "CocoEvalParams: bad max_dets");
  INSTSEG_REQUIRE(!p_.area_rng.empty() && p_.area_rng.size() == p_.area_rng_lbl.size(),
                "CocoEvalParams: area_rng and area_rng_lbl differ in length");
}

CocoEvaluator::~CocoEvaluator() = default;
CocoEvaluator::CocoEvaluator(CocoEvaluator&&) noexcept = default;
CocoEvaluator& CocoEvaluator::operator=(CocoEvaluator&&) noexcept = default;

void CocoEvaluator::evaluate(const std::vector<EvalGt>& gts, const std::vector<EvalDet>& dets) {
  State& S = *s_;
  S.gts = &gts;
  S.dets = &dets;
  S.I = p_.img_ids.size();
  S.Kb = p_.cat_ids.size();
  S.K = p_.use_cats ? S.Kb : 1;
  S.img_index.clear();
  S.cat_index.clear();
  S.img_index.reserve(S.I * 2);
  for (size_t i = 0; i < S.I; ++i) S.img_index.emplace(p_.img_ids[i], static_cast<int32_t>(i));
  for (size_t k = 0; k < S.Kb; ++k) S.cat_index.emplace(p_.cat_ids[k], static_cast<int32_t>(k));
  INSTSEG_REQUIRE(gts.size() < UINT32_MAX && dets.size() < UINT32_MAX, "CocoEvaluator: too many annotations");

  // _prepare: bucket by (image, category) keeping input order (counting sort).
  auto bucket = [&](const auto& anns, std::vector<uint32_t>& off, std::vector<uint32_t>& idx) {
    const size_t nb = S.I * S.Kb;
    std::vector<int64_t> key(anns.size(), -1);
    off.assign(nb + 1, 0);
    for (size_t j = 0; j < anns.size(); ++j) {
      auto ii = S.img_index.find(anns[j].image_id);
      auto kk = S.cat_index.find(anns[j].category_id);
      if (ii == S.img_index.end() || kk == S.cat_index.end()) continue;
      key[j] = static_cast<int64_t>(ii->second) * S.Kb + kk->second;
      ++off[key[j] + 1];
    }
    for (size_t b = 0; b < nb; ++b) off[b + 1] += off[b];
    idx.assign(off[nb], 0);
    std::vector<uint32_t> fill(off.begin(), off.end() - 1);
    for (size_t j = 0; j < anns.size(); ++j)
      if (key[j] >= 0) idx[fill[key[j]]++] = static_cast<uint32_t>(j);
  };
  bucket(gts, S.gt_off, S.gt_idx);
  bucket(dets, S.dt_off, S.dt_idx);

  const size_t A = p_.area_rng.size(), T = p_.iou_thrs.size();
  S.images.assign(S.I, ImageOut{});
  const int threads = p_.num_threads > 0 ? p_.num_threads : available_cpus();
  parallel_for(S.I, threads, [&](size_t i) {
    thread_local Scratch s;
    ImageOut& out = S.images[i];
    out = ImageOut{};
    for (size_t k = 0; k < S.K; ++k) {
      if (!S.prepare(p_, i, k, s)) continue;
      const size_t nd = s.dl.size();
      PairOut po;
      po.k = static_cast<int32_t>(k);
      po.D = static_cast<uint32_t>(nd);
      po.score_off = static_cast<uint32_t>(out.scores.size());
      po.flag_off = static_cast<uint32_t>(out.flags.size());
      po.npig_off = static_cast<uint32_t>(out.npig.size());
      for (size_t d = 0; d < nd; ++d) out.scores.push_back(dets[s.dl[d]].score);
      for (size_t a = 0; a < A; ++a) {
        S.match(p_, a, s);
        int32_t npig = 0;
        for (uint8_t ig : s.gt_ig) npig += ig == 0;
        out.npig.push_back(npig);
        for (size_t t = 0; t < T; ++t)
          for (size_t d = 0; d < nd; ++d) {
            uint8_t f = 0;
            if (s.dtm[t * nd + d] != 0) f |= kMatched;
            if (s.dtig[t * nd + d]) f |= kIgnored;
            out.flags.push_back(f);
          }
      }
      out.pairs.push_back(po);
    }
  });
  S.evaluated = true;
  accumulated_ = false;
}

size_t CocoEvaluator::num_pairs() const {
  size_t n = 0;
  for (const auto& im : s_->images) n += im.pairs.size();
  return n;
}

void CocoEvaluator::accumulate() {
  const State& S = *s_;
  INSTSEG_REQUIRE(S.evaluated, "CocoEvaluator::accumulate: call evaluate() first");
  const size_t T = p_.iou_thrs.size(), R = p_.rec_thrs.size(), K = S.K, A = p_.area_rng.size(),
               M = p_.max_dets.size();
  // T*R*K*A*M doubles (7.4 MiB for 80 categories), all written below.
  precision_.reserve(T * R * K * A * M);
  advise_huge_pages(precision_.data(), T * R * K * A * M * sizeof(double));
  precision_.assign(T * R * K * A * M, -1.0);
  // eval['scores'] has precision's shape; nothing in summarize() reads it.
  const bool keep_scores = p_.keep_scores;
  if (keep_scores) {
    scores_.reserve(T * R * K * A * M);
    advise_huge_pages(scores_.data(), T * R * K * A * M * sizeof(double));
    scores_.assign(T * R * K * A * M, -1.0);
  } else {
    std::vector<double>().swap(scores_);
  }
  recall_.assign(T * K * A * M, -1.0);

  // Pairs of each category slot, in image order (the order of E).
  struct Ref {
    const ImageOut* im;
    const PairOut* pr;
  };
  std::vector<std::vector<Ref>> by_k(K);
  for (const auto& im : S.images)
    for (const auto& pr : im.pairs) by_k[pr.k].push_back({&im, &pr});

  const double eps = std::numeric_limits<double>::epsilon();  // np.spacing(1)
  const int threads = p_.num_threads > 0 ? p_.num_threads : available_cpus();
  parallel_for(K, threads, [&](size_t k) {
    const auto& refs = by_k[k];
    if (refs.empty()) return;
    // All images' detections of this category, stably sorted by score (the
    // concatenation order of E breaks ties, as np.argsort(kind='mergesort')).
    std::vector<uint32_t> pair_of, rank_of, order;
    std::vector<double> score;
    for (uint32_t r = 0; r < refs.size(); ++r)
      for (uint32_t j = 0; j < refs[r].pr->D; ++j) {
        pair_of.push_back(r);
        rank_of.push_back(j);
        score.push_back(refs[r].im->scores[refs[r].pr->score_off + j]);
      }
    const size_t N = score.size();
    order.resize(N);
    for (uint32_t n = 0; n < N; ++n) order[n] = n;
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return score[a] > score[b]; });
    // Positions where the true-positive count goes up, with the false
    // positives so far: precision can only peak there (between two of them it
    // falls as fp grows), so the monotone envelope and the recall lookup only
    // need these points. The doubles computed are the ones numpy computes.
    struct Inc {
      uint32_t q;      // position among the selected detections
      uint32_t fp;     // false positives up to and including q
      double pr, env;  // precision at q, max precision from q on
      double score;
    };
    std::vector<Inc> incs;
    std::vector<int64_t> npig(A, 0);
    for (size_t a = 0; a < A; ++a)
      for (const auto& rf : refs) npig[a] += rf.im->npig[rf.pr->npig_off + a];
    // Per maxDet: the selected detections (rank < maxDet) in sorted order,
    // their flags gathered once into F[(a*T + t)*nd + q] so that every
    // (area, threshold) pass below is a branch-light sequential scan.
    std::vector<uint8_t> F;
    std::vector<double> sel_score;
    for (size_t m = 0; m < M; ++m) {
      const int64_t max_det = p_.max_dets[m];
      sel_score.clear();
      std::vector<uint32_t> sel;
      for (size_t q = 0; q < N; ++q)
        if (rank_of[order[q]] < max_det) sel.push_back(order[q]);
      const uint32_t nd = static_cast<uint32_t>(sel.size());
      F.assign(A * T * nd, 0);
      sel_score.resize(nd);
      for (uint32_t q = 0; q < nd; ++q) {
        const uint32_t n = sel[q];
        const Ref& rf = refs[pair_of[n]];
        const uint8_t* f = rf.im->flags.data() + rf.pr->flag_off + rank_of[n];
        const size_t D = rf.pr->D;
        for (size_t at = 0; at < A * T; ++at) F[at * nd + q] = f[at * D];
        sel_score[q] = score[n];
      }
      for (size_t a = 0; a < A; ++a) {
        if (npig[a] == 0) continue;
        const double dnpig = static_cast<double>(npig[a]);
        for (size_t t = 0; t < T; ++t) {
          const uint8_t* f = &F[(a * T + t) * nd];
          incs.clear();
          uint32_t tp = 0, fp = 0;
          const double first_score = nd ? sel_score[0] : 0.0;
          for (uint32_t q = 0; q < nd; ++q) {
            const uint8_t fl = f[q];
            if (fl & kIgnored) continue;
            if (fl & kMatched) {
              ++tp;
              incs.push_back({q, fp, 0.0, 0.0, sel_score[q]});
            } else {
              ++fp;
            }
          }
          const size_t ridx = ((t * K + k) * A + a) * M + m;
          recall_[ridx] = nd ? static_cast<double>(tp) / dnpig : 0.0;
          // pr = tp / (fp + tp + eps), then the backward running max.
          for (size_t i = incs.size(); i-- > 0;) {
            const double tpd = static_cast<double>(i + 1);
            incs[i].pr = tpd / (static_cast<double>(incs[i].fp) + tpd + eps);
            incs[i].env = i + 1 < incs.size() ? std::max(incs[i].pr, incs[i + 1].env) : incs[i].pr;
          }
          // tp value at the first selected detection; rc takes every integer
          // value from there up to tp.
          const uint32_t tp0 = (!incs.empty() && incs[0].q == 0) ? 1 : 0;
          for (size_t r = 0; r < R; ++r) {
            const size_t idx = (((t * R + r) * K + k) * A + a) * M + m;
            // np.searchsorted(rc, recThrs[r], side='left'): the first position
            // whose rc = v / npig >= thr, i.e. the smallest such v.
            const double thr = p_.rec_thrs[r];
            uint32_t lo = tp0, hi = tp + 1;  // search v in [tp0, tp]
            while (lo < hi) {
              const uint32_t mid = lo + (hi - lo) / 2;
              if (static_cast<double>(mid) / dnpig >= thr)
                hi = mid;
              else
                lo = mid + 1;
            }
            if (nd == 0 || lo > tp) {
              // Past the end: pycocotools' try/except leaves the rest at 0.
              for (size_t r2 = r; r2 < R; ++r2) {
                const size_t idx2 = (((t * R + r2) * K + k) * A + a) * M + m;
                precision_[idx2] = 0.0;
                if (keep_scores) scores_[idx2] = 0.0;
              }
              break;
            }
            if (lo == 0) {
              // Position 0 (not a true positive, so its own precision is 0).
              precision_[idx] = incs.empty() ? 0.0 : std::max(0.0, incs[0].env);
              if (keep_scores) scores_[idx] = first_score;
            } else {
              precision_[idx] = incs[lo - 1].env;
              if (keep_scores) scores_[idx] = incs[lo - 1].score;
            }
          }
        }
      }
    }
  });

  // summarize()
  auto summarize = [&](bool ap, double iou_thr, bool has_thr, const std::string& area_lbl,
                       int64_t max_dets) -> double {
    std::vector<size_t> tind, aind, mind;
    for (size_t t = 0; t < T; ++t)
      if (!has_thr || p_.iou_thrs[t] == iou_thr) tind.push_back(t);
    for (size_t a = 0; a < A; ++a)
      if (p_.area_rng_lbl[a] == area_lbl) aind.push_back(a);
    for (size_t m = 0; m < M; ++m)
      if (p_.max_dets[m] == max_dets) mind.push_back(m);
    std::vector<double> v;
    if (ap) {
      for (size_t t : tind)
        for (size_t r = 0; r < R; ++r)
          for (size_t k = 0; k < K; ++k)
            for (size_t a : aind)
              for (size_t m : mind) {
                const double x = precision_[(((t * R + r) * K + k) * A + a) * M + m];
                if (x > -1) v.push_back(x);
              }
    } else {
      for (size_t t : tind)
        for (size_t k = 0; k < K; ++k)
          for (size_t a : aind)
            for (size_t m : mind) {
              const double x = recall_[((t * K + k) * A + a) * M + m];
              if (x > -1) v.push_back(x);
            }
    }
    if (v.empty()) return -1;
    return np_pairwise_sum(v.data(), static_cast<int64_t>(v.size())) / static_cast<double>(v.size());
  };
  const auto& md = p_.max_dets;
  const int64_t m0 = md[0], m1 = md.size() > 1 ? md[1] : -1, m2 = md.size() > 2 ? md[2] : -1;
  stats_[0] = summarize(true, 0, false, "all", 100);
  stats_[1] = summarize(true, .5, true, "all", m2);
  stats_[2] = summarize(true, .75, true, "all", m2);
  stats_[3] = summarize(true, 0, false, "small", m2);
  stats_[4] = summarize(true, 0, false, "medium", m2);
  stats_[5] = summarize(true, 0, false, "large", m2);
  stats_[6] = summarize(false, 0, false, "all", m0);
  stats_[7] = summarize(false, 0, false, "all", m1);
  stats_[8] = summarize(false, 0, false, "all", m2);
  stats_[9] = summarize(false, 0, false, "small", m2);
  stats_[10] = summarize(false, 0, false, "medium", m2);
  stats_[11] = summarize(false, 0, false, "large", m2);
  accumulated_ = true;
}

std::array<double, 12> CocoEvaluator::stats() const {
  INSTSEG_REQUIRE(accumulated_, "CocoEvaluator::stats: call accumulate() first");
  return stats_;
}

std::vector<double> CocoEvaluator::ious(int64_t image_id, int64_t category_id) const {
  const State& S = *s_;
  INSTSEG_REQUIRE(S.evaluated, "CocoEvaluator::ious: call evaluate() first");
  auto ii = S.img_index.find(image_id);
  if (ii == S.img_index.end()) return {};
  size_t k = 0;
  if (p_.use_cats) {
    auto kk = S.cat_index.find(category_id);
    if (kk == S.cat_index.end()) return {};
    k = kk->second;
  }
  Scratch s;
  if (!S.prepare(p_, ii->second, k, s)) return {};
  if (s.dl.empty() || s.gl.empty()) return {};
  return s.ious;
}

bool CocoEvaluator::eval_image(int64_t image_id, int64_t category_id, size_t area_idx, EvalImage* out) const {
  const State& S = *s_;
  INSTSEG_REQUIRE(S.evaluated, "CocoEvaluator::eval_image: call evaluate() first");
  INSTSEG_REQUIRE(area_idx < p_.area_rng.size(), "CocoEvaluator::eval_image: bad area index ", area_idx);
  auto ii = S.img_index.find(image_id);
  if (ii == S.img_index.end()) return false;
  size_t k = 0;
  if (p_.use_cats) {
    auto kk = S.cat_index.find(category_id);
    if (kk == S.cat_index.end()) return false;
    k = kk->second;
  }
  Scratch s;
  if (!S.prepare(p_, ii->second, k, s)) return false;
  S.match(p_, area_idx, s);
  EvalImage& e = *out;
  e = EvalImage{};
  e.image_id = image_id;
  e.category_id = p_.use_cats ? category_id : -1;
  e.area_rng = p_.area_rng[area_idx];
  e.max_det = p_.max_dets.back();
  for (uint32_t d : s.dl) {
    e.dt_ids.push_back((*S.dets)[d].id);
    e.dt_scores.push_back((*S.dets)[d].score);
  }
  for (uint32_t g : s.gtind) e.gt_ids.push_back((*S.gts)[s.gl[g]].id);
  e.dt_matches = s.dtm;
  e.gt_matches = s.gtm;
  e.dt_ignore = s.dtig;
  e.gt_ignore = s.gt_ig;
  return true;
}

}  // namespace instseg::eval
