import { Schema, type InferSchemaType } from 'mongoose';

/** The product's own projects, for sites without VISP: VISP's fields that the client reads, nothing more. */
export const projectSchema = new Schema(
  {
    id: { type: String, required: true, unique: true },
    name: { type: String, required: true },
    archived: { type: Boolean, required: true, default: false },
    members: { type: [{ _id: false, username: { type: String, required: true }, role: { type: String, required: true } }], default: [] },
  },
  { timestamps: true, collection: 'projects' },
);

export type ProjectDocument = InferSchemaType<typeof projectSchema>;
