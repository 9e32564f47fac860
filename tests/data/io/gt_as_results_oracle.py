#!/usr/bin/python3
"""Oracle for tests/io/test_gt_as_results.cpp (run offline; nothing needs it at build time).

Prints each dataset's counts (python's json module) and the COCO stats obtained
when every non-crowd GT annotation is fed back as a score-1.0 result, computed
by a small independent re-implementation of pycocotools' evaluateImg /
accumulate / summarize (cocoeval.py) for boxes, and for compressed-RLE masks
(nuclei; decoded here with numpy).  Usage: gt_as_results_oracle.py [SHARED_DATA_DIR]
"""
import collections
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, '..', 'shared', 'data')


def rle_decode(counts, h, w):
    # rleFrString: 5-bit groups, LEB128-like, deltas from counts[i-2] for i > 2
    cnts, p, m = [], 0, 0
    while p < len(counts):
        x, k, more = 0, 0, 1
        while more:
            c = ord(counts[p]) - 48
            x |= (c & 0x1f) << (5 * k)
            more = c & 0x20
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    flat = np.zeros(h * w, np.uint8)
    pos, v = 0, 0
    for c in cnts:
        flat[pos:pos + c] = v
        pos += c
        v ^= 1
    return flat  # column-major, fine for IoU


def bb_iou(d, g, crowd):
    ious = np.zeros((len(d), len(g)))
    for i, a in enumerate(d):
        for j, b in enumerate(g):
            iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
            ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
            if iw <= 0 or ih <= 0:
                continue
            inter = iw * ih
            u = a[2] * a[3] if crowd[j] else a[2] * a[3] + b[2] * b[3] - inter
            ious[i, j] = inter / u
    return ious


def mask_iou(d, g, crowd):
    ious = np.zeros((len(d), len(g)))
    for i, a in enumerate(d):
        for j, b in enumerate(g):
            inter = float(np.logical_and(a, b).sum())
            if inter == 0:
                continue
            u = float(a.sum()) if crowd[j] else float(np.logical_or(a, b).sum())
            ious[i, j] = inter / u
    return ious


def cocoeval(gts, dts, img_ids, cat_ids, iou_type, max_dets):
    iou_thrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
    rec_thrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
    area_rng = [[0, 1e10], [0, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e10]]
    G, D = collections.defaultdict(list), collections.defaultdict(list)
    for g in gts:
        G[g['image_id'], g['category_id']].append(g)
    for d in dts:
        D[d['image_id'], d['category_id']].append(d)
    T, R, K, A, M = len(iou_thrs), len(rec_thrs), len(cat_ids), len(area_rng), len(max_dets)
    ious = {}
    for i in img_ids:
        for c in cat_ids:
            g, d = G[i, c], D[i, c]
            if not g or not d:
                ious[i, c] = []
                continue
            d = [d[k] for k in np.argsort([-x['score'] for x in d], kind='mergesort')][:max_dets[-1]]
            crowd = [int(x['iscrowd']) for x in g]
            if iou_type == 'bbox':
                ious[i, c] = bb_iou([x['bbox'] for x in d], [x['bbox'] for x in g], crowd)
            else:
                ious[i, c] = mask_iou([x['mask'] for x in d], [x['mask'] for x in g], crowd)

    def evaluate_img(i, c, a_rng, max_det):
        gt, dt = G[i, c], D[i, c]
        if not gt and not dt:
            return None
        for g in gt:
            g['_ignore'] = 1 if (g['iscrowd'] or g['area'] < a_rng[0] or g['area'] > a_rng[1]) else 0
        gtind = np.argsort([g['_ignore'] for g in gt], kind='mergesort')
        gt = [gt[k] for k in gtind]
        dtind = np.argsort([-d['score'] for d in dt], kind='mergesort')
        dt = [dt[k] for k in dtind[0:max_det]]
        iscrowd = [int(o['iscrowd']) for o in gt]
        io = ious[i, c][:, gtind] if len(ious[i, c]) > 0 else ious[i, c]
        gtm = np.zeros((T, len(gt)))
        dtm = np.zeros((T, len(dt)))
        gt_ig = np.array([g['_ignore'] for g in gt])
        dt_ig = np.zeros((T, len(dt)))
        if len(io) != 0:
            for tind, t in enumerate(iou_thrs):
                for dind, d in enumerate(dt):
                    iou = min([t, 1 - 1e-10])
                    m = -1
                    for gind, g in enumerate(gt):
                        if gtm[tind, gind] > 0 and not iscrowd[gind]:
                            continue
                        if m > -1 and gt_ig[m] == 0 and gt_ig[gind] == 1:
                            break
                        if io[dind, gind] < iou:
                            continue
                        iou = io[dind, gind]
                        m = gind
                    if m == -1:
                        continue
                    dt_ig[tind, dind] = gt_ig[m]
                    dtm[tind, dind] = gt[m]['_id']
                    gtm[tind, m] = d['_id']
        a = np.array([d['area'] < a_rng[0] or d['area'] > a_rng[1] for d in dt]).reshape((1, len(dt)))
        dt_ig = np.logical_or(dt_ig, np.logical_and(dtm == 0, np.repeat(a, T, 0)))
        return dict(dtMatches=dtm, dtScores=[d['score'] for d in dt], gtIgnore=gt_ig, dtIgnore=dt_ig)

    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k, c in enumerate(cat_ids):
        for a, a_rng in enumerate(area_rng):
            E0 = [evaluate_img(i, c, a_rng, max_dets[-1]) for i in img_ids]
            E0 = [e for e in E0 if e is not None]
            if not E0:
                continue
            for m, max_det in enumerate(max_dets):
                dt_scores = np.concatenate([e['dtScores'][0:max_det] for e in E0])
                inds = np.argsort(-dt_scores, kind='mergesort')
                dtm = np.concatenate([e['dtMatches'][:, 0:max_det] for e in E0], axis=1)[:, inds]
                dt_ig = np.concatenate([e['dtIgnore'][:, 0:max_det] for e in E0], axis=1)[:, inds]
                gt_ig = np.concatenate([e['gtIgnore'] for e in E0])
                npig = np.count_nonzero(gt_ig == 0)
                if npig == 0:
                    continue
                tps = np.logical_and(dtm, np.logical_not(dt_ig))
                fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig))
                tp_sum = np.cumsum(tps, axis=1).astype(dtype=float)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=float)
                for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                    nd = len(tp)
                    rc = tp / npig
                    pr = (tp / (fp + tp + np.spacing(1))).tolist()
                    q = np.zeros((R,))
                    recall[t, k, a, m] = rc[-1] if nd else 0
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    idx = np.searchsorted(rc, rec_thrs, side='left')
                    try:
                        for ri, pi in enumerate(idx):
                            q[ri] = pr[pi]
                    except IndexError:
                        pass
                    precision[t, :, k, a, m] = q

    def summ(ap, thr=None, area=0, md=100):
        mind = [i for i, x in enumerate(max_dets) if x == md]
        if ap:
            s = precision
            if thr is not None:
                s = s[np.where(thr == iou_thrs)[0]]
            s = s[:, :, :, area, mind]
        else:
            s = recall
            if thr is not None:
                s = s[np.where(thr == iou_thrs)[0]]
            s = s[:, :, area, mind]
        return -1 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    md = max_dets
    return [summ(1), summ(1, .5, 0, md[2]), summ(1, .75, 0, md[2]), summ(1, None, 1, md[2]),
            summ(1, None, 2, md[2]), summ(1, None, 3, md[2]), summ(0, None, 0, md[0]), summ(0, None, 0, md[1]),
            summ(0, None, 0, md[2]), summ(0, None, 1, md[2]), summ(0, None, 2, md[2]), summ(0, None, 3, md[2])]


def run(name, ann, with_masks):
    d = json.load(open(ann))
    anns = d['annotations']
    print('%s: images %d, annotations %d, crowd %d, categories %d, images with annotations %d' % (
        name, len(d['images']), len(anns), sum(1 for a in anns if a.get('iscrowd', 0)), len(d['categories']),
        len({a['image_id'] for a in anns})))
    img_ids = sorted(i['id'] for i in d['images'])
    cat_ids = sorted(c['id'] for c in d['categories'])
    img_order = {im['id']: k for k, im in enumerate(d['images'])}
    gts = []
    for n, a in enumerate(anns):
        g = dict(image_id=a['image_id'], category_id=a['category_id'], area=a['area'], bbox=a['bbox'],
                 iscrowd=a.get('iscrowd', 0), _id=a['id'])
        if with_masks:
            s = a['segmentation']
            g['mask'] = rle_decode(s['counts'], s['size'][0], s['size'][1])
        gts.append(g)
    # results in dataset order: images in file order, each image's annotations in file order
    order = sorted(range(len(anns)), key=lambda n: (img_order[anns[n]['image_id']], n))
    dts = []
    for n in order:
        g = gts[n]
        if g['iscrowd']:
            continue
        x = dict(g, score=1.0, iscrowd=0, _id=len(dts) + 1)
        x['area'] = g['bbox'][2] * g['bbox'][3]  # loadRes with a bbox: area = w * h
        dts.append(x)
    for t in (['bbox', 'segm'] if with_masks else ['bbox']):
        for md in ([1, 10, 100], [100, 300, 1000]):
            st = cocoeval(gts, dts, img_ids, cat_ids, t, md)
            print('  %s maxDets %s: %s' % (t, md, ' '.join('%.17g' % v for v in st)))


run('nuclei val', os.path.join(REPO, 'data/nuclei/annotations/val.json'), True)
run('nuclei train', os.path.join(REPO, 'data/nuclei/annotations/train.json'), True)
run('coco128', os.path.join(SHARED, 'coco128/instances.json'), False)
run('labelme3', os.path.join(SHARED, 'labelme3/instances.json'), False)
