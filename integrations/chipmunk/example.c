/* README example (make test-install-integrations builds it with pkg-config). */
#include <fa_chipmunk.h>
#include <stdio.h>

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    cpSpace *space = fa_cp_space_new();               /* cpSpaceNew without Debian's stdout banner */
    cpSpaceSetGravity(space, cpv(0, -10));
    cpShape *floor = cpSpaceAddShape(space, cpSegmentShapeNew(cpSpaceGetStaticBody(space), cpv(-9, 0), cpv(9, 0), 0));
    cpBody *ball = cpSpaceAddBody(space, cpBodyNew(1, cpMomentForCircle(1, 0, 0.5, cpvzero)));
    cpShape *shape = cpSpaceAddShape(space, cpCircleShapeNew(ball, 0.5, cpvzero));
    cpBodySetPosition(ball, cpv(0, 2));
    fa_cp_world_t *world;
    fa_cp_attach(fa, space, NULL, &world);            /* events under physics/contacts */
    for (int frame = 0; frame < 120; frame++) {
        fa_begin_frame(fa);
        fa_cp_step(world, 1.0 / 60);
        fa_cp_contacts_t c = fa_cp_contacts(world);   /* frame memory: no free */
        for (size_t i = 0; i < c.count; i++)
            if (c.items[i].phase == FA_CP_BEGIN) printf("frame %d: landed, depth %.3f\n", frame, c.items[i].depth);
        fa_cp_hits_t hits;                            /* a ray down from above, nearest first */
        fa_cp_segment_query(world, cpv(0, 5), cpv(0, -1), 0, CP_SHAPE_FILTER_ALL, &hits);
        fa_end_frame(fa);                             /* events and hits are gone */
    }
    fa_cp_detach(world);
    cpSpaceRemoveShape(space, shape), cpSpaceRemoveShape(space, floor), cpSpaceRemoveBody(space, ball);
    cpShapeFree(shape), cpShapeFree(floor), cpBodyFree(ball), cpSpaceFree(space);
    fa_destroy(fa);
}
