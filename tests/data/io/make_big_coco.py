#!/usr/bin/env python3
"""Writes a synthetic COCO instances file shaped like instances_train2017.json
(118k images, ~860k annotations, 80 categories, polygons + a few crowd RLEs)
for the manual peak-RSS benchmark of instseg::load_coco_json
(docs/benchmarks/coco_json.md). Never committed: it goes to /tmp.

  python3 tests/data/io/make_big_coco.py /tmp/big_coco.json [target_MB]
"""
import random
import sys


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/big_coco.json"
    target = int(sys.argv[2]) if len(sys.argv) > 2 else 448
    rng = random.Random(0)
    n_images = 118287
    with open(out, "w") as f:
        f.write('{"info": {"description": "synthetic"}, "licenses": [], "images": [')
        for i in range(n_images):
            f.write(("," if i else "") +
                    '{"license": 3, "file_name": "%012d.jpg", "coco_url": "http://images.cocodataset.org/train2017/%012d.jpg", '
                    '"height": 480, "width": 640, "date_captured": "2013-11-14 11:18:45", '
                    '"flickr_url": "http://farm9.staticflickr.com/8186/8119368305_4e622c8349_z.jpg", "id": %d}' % (i, i, i + 1))
        f.write('], "annotations": [')
        written = f.tell()
        aid = 0
        while written < target * 1000 * 1000:
            img = rng.randrange(n_images) + 1
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            if aid % 100 == 99:  # crowd, uncompressed RLE
                counts = [rng.randrange(1000) for _ in range(60)]
                counts.append(480 * 640 - sum(counts))
                seg = '{"counts": [%s], "size": [480, 640]}' % ", ".join(map(str, counts))
                crowd = 1
            else:
                npts = rng.randrange(8, 40)
                seg = "[[" + ", ".join("%.2f" % v for _ in range(npts)
                                       for v in (x + rng.uniform(0, 120), y + rng.uniform(0, 120))) + "]]"
                crowd = 0
            s = ('%s{"segmentation": %s, "area": %.5f, "iscrowd": %d, "image_id": %d, '
                 '"bbox": [%.2f, %.2f, %.2f, %.2f], "category_id": %d, "id": %d}'
                 % ("," if aid else "", seg, rng.uniform(10, 9000), crowd, img,
                    x, y, rng.uniform(1, 120), rng.uniform(1, 120), rng.randrange(1, 91), aid + 1))
            f.write(s)
            written += len(s)
            aid += 1
        f.write('], "categories": [%s]}' % ", ".join(
            '{"supercategory": "s", "id": %d, "name": "c%d"}' % (c, c) for c in range(1, 91)))
    print(out, aid, "annotations")


if __name__ == "__main__":
    main()
