import { Schema, type InferSchemaType } from 'mongoose';

export const userSchema = new Schema(
  {
    username: { type: String, required: true, unique: true },
    email: { type: String },
    displayName: { type: String },
    affiliation: { type: String },
    admin: { type: Boolean, required: true, default: false },
    /** On the access list (VISP's `loginAllowed`): what ACCESS_LIST_ENABLED asks of VISP's client's users. */
    loginAllowed: { type: Boolean, required: true, default: false },
    lastSignInAt: { type: Date },
  },
  { timestamps: true, collection: 'users' },
);

export type UserDocument = InferSchemaType<typeof userSchema>;
